# Every HCL construct that apps may use. References: table.users is app auth's table in the same
# schema; table.public.plans is a table of public.
enum "status" {
  values = ["open", "won", "lost"]
}

table "deals" {
  column "id" {
    type = bigint
    identity {
      generated = ALWAYS
      start     = 100
    }
  }
  column "seq" {
    type = serial
  }
  column "owner_id" {
    type = bigint
    null = true
  }
  column "plan_id" {
    type = bigint
    null = true
  }
  column "status" {
    type    = enum.status
    default = "open"
  }
  column "owner_role" {
    type = enum.role
    null = true
  }
  column "amount" {
    type    = numeric(12, 2)
    default = 0
  }
  column "title" {
    type    = varchar(200)
    comment = "shown in lists"
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  index "deals_title_idx" {
    columns = [column.title]
  }
  index "deals_owner_recent_idx" {
    on {
      column = column.owner_id
    }
    on {
      column = column.created_at
      desc   = true
    }
    where = "status <> 'lost'"
  }
  unique "deals_seq_key" {
    columns = [column.seq]
  }
  foreign_key "deals_owner_fk" {
    columns     = [column.owner_id]
    ref_columns = [table.users.column.id]
    on_delete   = SET_NULL
  }
  foreign_key "deals_plan_fk" {
    columns     = [column.plan_id]
    ref_columns = [table.public.plans.column.id]
  }
  check "deals_amount_positive" {
    expr = "amount >= 0"
  }
}

table "deal_notes" {
  column "deal_id" {
    type = bigint
  }
  column "body" {
    type = text
  }
  primary_key {
    columns = [column.deal_id]
  }
  foreign_key "deal_notes_deal_fk" {
    columns     = [column.deal_id]
    ref_columns = [table.deals.column.id]
    on_delete   = CASCADE
  }
}
