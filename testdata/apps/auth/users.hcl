# Users of one tenant. An app never names its schema: the set decides where it lands.
enum "role" {
  values = ["owner", "member", "guest"]
}

table "users" {
  column "id" {
    type = bigserial
  }
  column "email" {
    type = text
  }
  column "role" {
    type    = enum.role
    default = "member"
  }
  column "plan_id" {
    type = bigint
    null = true
  }
  column "created_at" {
    type    = timestamptz
    default = sql("now()")
  }
  primary_key {
    columns = [column.id]
  }
  index "users_email_key" {
    unique  = true
    columns = [column.email]
  }
  foreign_key "users_plan_fk" {
    columns     = [column.plan_id]
    ref_columns = [table.public.plans.column.id] # a table of a public app
  }
}
