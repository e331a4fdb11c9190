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
}
