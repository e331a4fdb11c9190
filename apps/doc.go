// Package apps loads and materialises the apps of pgschemas.
//
// An app is a folder that declares the tables (and views and functions) a schema must have. A pgschemas.hcl config assigns
// apps to public, to static tenants and to dynamic tenants; the engine (package schemaset) computes
// each schema's desired state by materialising its apps, in order, into an empty scratch schema
// inside a transaction that it always rolls back, and diffs that against the live schema.
// An app never names the schema it lands in.
//
// # Layout
//
// Load reads every sub-folder of the apps folder as one app named after the folder
// (^[a-z][a-z0-9_]{0,62}$):
//
//	apps/
//	  auth/
//	    users.hcl                  Atlas HCL: table and enum blocks
//	  tenant/
//	    notes.sql                  PostgreSQL DDL
//	    steps/0001_backfill.sql    one-time steps, ^[0-9]{4}_[a-z0-9_]+$, one per number
//
// README* and *.md files are skipped anywhere; any other file or folder is an error that names it.
// Every problem with the apps' files wraps ErrInvalidApp and is an *Error with the app, file and
// line; all of them are reported, joined. A folder that cannot be read gives the fs error.
//
// Within an app, the HCL files are evaluated together and created first, then the SQL files run in
// path order. Apps run in the order the set gives, so an app may reference the tables of the apps
// before it, and the tables of public.
//
// # HCL files
//
// HCL files use Atlas' PostgreSQL HCL (https://atlasgo.io/atlas-schema/hcl), restricted to what the
// engine can manage: top-level table and enum blocks, each with one label, its name.
//
//	enum "status" {
//	  values = ["open", "won", "lost"]
//	}
//
//	table "deals" {
//	  column "id" {
//	    type = bigint
//	    identity {
//	      generated = ALWAYS
//	      start     = 100
//	    }
//	  }
//	  column "seq"      { type = serial }
//	  column "status"   {
//	    type    = enum.status
//	    default = "open"
//	  }
//	  column "owner_id" {
//	    type = bigint
//	    null = true
//	  }
//	  column "plan_id"  {
//	    type = bigint
//	    null = true
//	  }
//	  column "amount"   {
//	    type    = numeric(12, 2)
//	    default = 0
//	  }
//	  column "created_at" {
//	    type    = timestamptz
//	    default = sql("now()")
//	  }
//	  primary_key { columns = [column.id] }
//	  index "deals_recent_idx" {
//	    on { column = column.owner_id }
//	    on {
//	      column = column.created_at
//	      desc   = true
//	    }
//	    where = "status <> 'lost'"
//	  }
//	  unique "deals_seq_key" { columns = [column.seq] }
//	  foreign_key "deals_owner_fk" {
//	    columns     = [column.owner_id]
//	    ref_columns = [table.users.column.id]        // a table of this schema
//	    on_delete   = SET_NULL
//	  }
//	  foreign_key "deals_plan_fk" {
//	    columns     = [column.plan_id]
//	    ref_columns = [table.public.plans.column.id] // a table of public
//	  }
//	  check "deals_amount_positive" { expr = "amount >= 0" }
//	}
//
// The rules:
//   - No schema block and no schema attribute: the set decides where the app lands.
//   - Allowed: in table, the attribute comment and the blocks column, primary_key, index, unique,
//     foreign_key and check; in column, type, null, default, comment and an identity block
//     (generated, start, increment); in index, columns, unique, where, type, include,
//     nulls_distinct, comment and on blocks (column, expr, desc, ops, nulls_first, nulls_last);
//     in enum, values. Anything else is an error at its line: Atlas itself would ignore an unknown
//     attribute, so a misspelt "nul = true" would silently give a NOT NULL column.
//   - table.NAME references a table of this schema: one the app declares, or one an earlier app
//     of the set created, in HCL or in SQL. table.public.NAME references a table of public.
//   - enum.NAME references an enum of this schema (this app's or an earlier app's). Enums of
//     public cannot be referenced from HCL, because Atlas' open-source HCL resolves enums by name
//     alone; use SQL for such a column.
//   - Column types are Atlas' PostgreSQL types: int, bigint, serial, bigserial, text,
//     varchar(200), numeric(12, 2), boolean, timestamptz, jsonb, uuid, enum.NAME, sql("...").
//
// # SQL files
//
// SQL files hold plain DDL with unqualified names, run as written, statement by statement: the
// search_path is the scratch schema, then public (or the schema that stands for it,
// Options.Public), then the extra schemas, so CREATE TABLE lands in the scratch schema and
// REFERENCES plans (id) finds public's plans. A failed statement is an *Error with the file and
// line (from the server's error position, else the line of the statement that names the object
// the error quotes, else the statement's first line), wrapping a *ServerError, which writes the
// server's DETAIL and HINT and wraps the *pgconn.PgError.
//
// # What SQL files and steps may run
//
// Load splits every SQL file and step into statements with PostgreSQL's parser (pg_query_go) and
// refuses, by the type of the parse tree's nodes and at the statement's line: transaction control
// (BEGIN, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION, COMMIT and
// ROLLBACK PREPARED) and CALL; what belongs to the cluster, the database or the session (roles,
// databases, tablespaces, ALTER SYSTEM, SET and RESET, LISTEN and NOTIFY, COPY, schemas,
// extensions, temporary tables, prepared statements and cursors, and functions such as set_config
// and the advisory locks); DO blocks in files (steps may run DO); and names of any schema but
// public (pg_catalog and information_schema may be named for types and functions, and read in
// FROM). Text that does not parse is refused with the parser's position. The engine runs each
// statement on its own and checks after it that its transaction is still open (TxStatuser, else
// the transaction's id): a statement that ended it gives an error that wraps ErrTransactionEnded.
// Without cgo (CGO_ENABLED=0) there is no parser, and every SQL file and step is refused.
//
// # What the engine cannot manage
//
// The engine diffs schemas with Atlas' open-source PostgreSQL driver, which manages tables,
// columns, primary keys, indexes, unique, foreign key and check constraints, enums, and identity
// and serial columns. Plain views and functions, which that driver neither inspects nor diffs, the
// engine manages itself from their definitions in the catalog (package schemaset): an app's SQL
// may create them in its schema, without grants or comments, which their re-creation would lose.
// After materialising, Materialize refuses, with errors that wrap ErrUnmanaged and name the
// object and its app:
//   - other kinds in the schema, listed from pg_catalog: materialized views, procedures,
//     aggregates, window functions, triggers, rules, policies and row level security, standalone
//     sequences, composite, domain, range and base types, partitioned tables, inheritance,
//     foreign tables, exclusion constraints, constraint triggers, extensions, statistics objects
//     and any other object in the schema;
//   - grants and comments on views and functions;
//   - names of tables, enums, views and functions that start with "pgschemas_", which the engine
//     reserves;
//   - objects created or altered outside the schema (CREATE TABLE public.x, an index or a column
//     added to a public table, a new schema, a temporary table): catalog rows written by the
//     transaction, found by their xmin;
//   - anything that does not survive a round trip through Atlas: the schema is inspected, re-created
//     from the inspection in a second scratch schema with Atlas' plan, and both must match in the
//     catalog (which catches what Atlas drops silently: DEFERRABLE, NOT VALID or MATCH FULL
//     constraints, a primary key not named TABLE_pkey, UNLOGGED tables, storage parameters of tables
//     and indexes, index collations, grants, identity sequence options, column storage and
//     statistics targets, comments on constraints) and in Atlas' own diff.
package apps
