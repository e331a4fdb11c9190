package apps_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/apps"
)

// load loads the apps of dir in fsys and returns those named, in order.
func load(t *testing.T, fsys fs.FS, dir string, names ...string) []*apps.App {
	t.Helper()
	reg, err := apps.Load(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	var list []*apps.App
	for _, n := range names {
		a, ok := reg.App(n)
		if !ok {
			t.Fatalf("no app %q in %s", n, dir)
		}
		list = append(list, a)
	}
	return list
}

// samples returns sample apps of the repository's testdata.
func samples(t *testing.T, names ...string) []*apps.App {
	return load(t, os.DirFS("../testdata"), "apps", names...)
}

// sqlApp builds an app of SQL files from path/text pairs.
func sqlApp(name string, pathText ...string) *apps.App {
	a := &apps.App{Name: name}
	for i := 0; i < len(pathText); i += 2 {
		a.Files = append(a.Files, apps.File{Path: name + "/" + pathText[i], Kind: apps.KindSQL, Data: []byte(pathText[i+1])})
	}
	return a
}

// hclApp builds an app of one HCL file.
func hclApp(name, text string) *apps.App {
	return &apps.App{Name: name, Files: []apps.File{{Path: name + "/" + name + ".hcl", Kind: apps.KindHCL, Data: []byte(text)}}}
}

// materialize runs Materialize into a fresh scratch schema of a transaction the test rolls back.
func materialize(t *testing.T, db *sql.DB, list ...*apps.App) (*sql.Tx, error) {
	t.Helper()
	tx := scratchTx(t, db, "scratch")
	return tx, apps.Materialize(context.Background(), tx, "scratch", nil, list...)
}

// materialized is materialize in the shared database, for apps that must succeed.
func materialized(t *testing.T, list ...*apps.App) *sql.Tx {
	t.Helper()
	tx, err := materialize(t, sharedDB(t), list...)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// rows returns the rows of a query of one text column.
func rows(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, query string, args ...any) []string {
	t.Helper()
	rs, err := q.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// Catalog queries of the scratch schema, rendered with the search_path that Materialize leaves
// (scratch, public), so unqualified names are scratch's.
const (
	columnsQuery = `SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
		|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
		|| CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
		|| coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE c.relnamespace = 'scratch'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
	ORDER BY c.relname, a.attnum`
	constraintsQuery = `SELECT c.relname || ' ' || k.conname || ': ' || pg_get_constraintdef(k.oid)
		|| coalesce(' -> ' || rn.nspname || '.' || r.relname, '')
	FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
	LEFT JOIN pg_class r ON r.oid = k.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
	WHERE c.relnamespace = 'scratch'::regnamespace ORDER BY 1`
	indexesQuery = `SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	WHERE c.relnamespace = 'scratch'::regnamespace ORDER BY 1`
	enumsQuery = `SELECT t.typname || ': ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
	FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = 'scratch'::regnamespace
	GROUP BY t.typname ORDER BY 1`
	sequencesQuery = `SELECT s.seqrelid::regclass::text || ' start ' || s.seqstart || ' owned by ' || d.refobjid::regclass::text || '.' || a.attname
	FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
	JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.refobjsubid > 0
	JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	WHERE c.relnamespace = 'scratch'::regnamespace ORDER BY 1`
)

func TestMaterializeDynamicSet(t *testing.T) {
	tx := materialized(t, samples(t, "auth", "tenant")...)
	equal(t, "columns", rows(t, tx, columnsQuery), []string{
		"notes.id bigint not null identity always",
		"notes.author_id bigint",
		"notes.body text not null",
		"notes.created_at timestamp with time zone not null default now()",
		"settings.key text not null",
		"settings.value text not null",
		"settings.plan_id bigint",
		"users.id bigint not null default nextval('users_id_seq'::regclass)",
		"users.email text not null",
		"users.role role not null default 'member'::role",
		"users.plan_id bigint",
		"users.created_at timestamp with time zone not null default now()",
	})
	equal(t, "enums", rows(t, tx, enumsQuery), []string{"role: owner,member,guest"})
	equal(t, "constraints", rows(t, tx, constraintsQuery), []string{
		"notes notes_author_id_fkey: FOREIGN KEY (author_id) REFERENCES users(id) ON DELETE CASCADE -> scratch.users",
		"notes notes_pkey: PRIMARY KEY (id)",
		"settings settings_pkey: PRIMARY KEY (key)",
		"settings settings_plan_id_fkey: FOREIGN KEY (plan_id) REFERENCES plans(id) -> public.plans",
		"users users_pkey: PRIMARY KEY (id)",
		"users users_plan_fk: FOREIGN KEY (plan_id) REFERENCES plans(id) -> public.plans",
	})
	equal(t, "indexes", rows(t, tx, indexesQuery), []string{
		"CREATE INDEX notes_author_idx ON scratch.notes USING btree (author_id, created_at DESC)",
		"CREATE UNIQUE INDEX notes_pkey ON scratch.notes USING btree (id)",
		"CREATE UNIQUE INDEX settings_pkey ON scratch.settings USING btree (key)",
		"CREATE UNIQUE INDEX users_email_key ON scratch.users USING btree (email)",
		"CREATE UNIQUE INDEX users_pkey ON scratch.users USING btree (id)",
	})
	equal(t, "sequences", rows(t, tx, sequencesQuery), []string{
		"notes_id_seq start 1 owned by notes.id",
		"users_id_seq start 1 owned by users.id",
	})
}

func TestMaterializeStaticAndPublicSets(t *testing.T) {
	t.Run("blog", func(t *testing.T) {
		tx := materialized(t, samples(t, "auth", "blog")...)
		cols := rows(t, tx, columnsQuery)
		equal(t, "posts.id", cols[:1], []string{"posts.id integer not null default nextval('posts_id_seq'::regclass)"})
		equal(t, "posts constraints", rows(t, tx, constraintsQuery)[:2], []string{
			"posts posts_author_id_fkey: FOREIGN KEY (author_id) REFERENCES users(id) -> scratch.users",
			"posts posts_pkey: PRIMARY KEY (id)",
		})
		equal(t, "partial index", rows(t, tx, indexesQuery)[:1], []string{
			"CREATE INDEX posts_published_idx ON scratch.posts USING btree (id) WHERE published",
		})
	})
	t.Run("www", func(t *testing.T) {
		tx := materialized(t, samples(t, "auth", "main")...)
		equal(t, "pages constraints", rows(t, tx, constraintsQuery)[:1], []string{
			"pages pages_author_id_fkey: FOREIGN KEY (author_id) REFERENCES users(id) ON DELETE SET NULL -> scratch.users",
		})
	})
	t.Run("public", func(t *testing.T) {
		// The public set is materialised in a scratch schema too: its own tables resolve there
		// first, and the engine's registry tables in public.
		tx := materialized(t, samples(t, "shared")...)
		equal(t, "constraints", rows(t, tx, constraintsQuery), []string{
			"plans plans_name_key: UNIQUE (name)",
			"plans plans_pkey: PRIMARY KEY (id)",
			"plans plans_price_cents_check: CHECK ((price_cents >= 0))",
			"subscriptions subscriptions_pkey: PRIMARY KEY (tenant)",
			"subscriptions subscriptions_plan_id_fkey: FOREIGN KEY (plan_id) REFERENCES plans(id) -> scratch.plans",
			"subscriptions subscriptions_tenant_fkey: FOREIGN KEY (tenant) REFERENCES pgschemas_tenant(schema_name) ON DELETE CASCADE -> public.pgschemas_tenant",
		})
	})
}

func TestMaterializeHCLConstructs(t *testing.T) {
	list := append(samples(t, "auth"), load(t, os.DirFS("testdata"), "full", "crm")...)
	tx := materialized(t, list...)
	cols := rows(t, tx, columnsQuery+"")
	equal(t, "columns", cols[:11], []string{
		"deal_notes.deal_id bigint not null",
		"deal_notes.body text not null",
		"deals.id bigint not null identity always",
		"deals.seq integer not null default nextval('deals_seq_seq'::regclass)",
		"deals.owner_id bigint",
		"deals.plan_id bigint",
		"deals.status status not null default 'open'::status",
		"deals.owner_role role",
		"deals.amount numeric(12,2) not null default 0",
		"deals.title character varying(200) not null",
		"deals.created_at timestamp with time zone not null default now()",
	})
	equal(t, "enums", rows(t, tx, enumsQuery), []string{"role: owner,member,guest", "status: open,won,lost"})
	equal(t, "constraints", rows(t, tx, constraintsQuery)[:7], []string{
		"deal_notes deal_notes_deal_fk: FOREIGN KEY (deal_id) REFERENCES deals(id) ON DELETE CASCADE -> scratch.deals",
		"deal_notes deal_notes_pkey: PRIMARY KEY (deal_id)",
		"deals deals_amount_positive: CHECK ((amount >= (0)::numeric))",
		"deals deals_owner_fk: FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE SET NULL -> scratch.users",
		"deals deals_pkey: PRIMARY KEY (id)",
		"deals deals_plan_fk: FOREIGN KEY (plan_id) REFERENCES plans(id) -> public.plans",
		"deals deals_seq_key: UNIQUE (seq)",
	})
	equal(t, "indexes", rows(t, tx, indexesQuery)[:5], []string{
		"CREATE INDEX deals_owner_recent_idx ON scratch.deals USING btree (owner_id, created_at DESC) WHERE (status <> 'lost'::status)",
		"CREATE INDEX deals_title_idx ON scratch.deals USING btree (title)",
		"CREATE UNIQUE INDEX deal_notes_pkey ON scratch.deal_notes USING btree (deal_id)",
		"CREATE UNIQUE INDEX deals_pkey ON scratch.deals USING btree (id)",
		"CREATE UNIQUE INDEX deals_seq_key ON scratch.deals USING btree (seq)",
	})
	equal(t, "sequences", rows(t, tx, sequencesQuery)[:2], []string{
		"deals_id_seq start 100 owned by deals.id",
		"deals_seq_seq start 1 owned by deals.seq",
	})
	equal(t, "comment", rows(t, tx, `SELECT col_description('scratch.deals'::regclass, 8)`), []string{"shown in lists"})
}

// An HCL app references the tables that earlier apps created, whether in HCL or in SQL.
func TestMaterializeHCLAfterSQL(t *testing.T) {
	base := sqlApp("base", "accounts.sql", "CREATE TABLE accounts (id bigint PRIMARY KEY);")
	tags := hclApp("tags", `table "tags" {
  column "account_id" {
    type = bigint
  }
  foreign_key "tags_account_fk" {
    columns     = [column.account_id]
    ref_columns = [table.accounts.column.id]
  }
}
`)
	tx := materialized(t, base, tags)
	equal(t, "constraints", rows(t, tx, constraintsQuery), []string{
		"accounts accounts_pkey: PRIMARY KEY (id)",
		"tags tags_account_fk: FOREIGN KEY (account_id) REFERENCES accounts(id) -> scratch.accounts",
	})
}

func TestMaterializeHCLErrors(t *testing.T) {
	db := sharedDB(t)
	const users = "table \"users\" {\n  column \"id\" {\n    type = bigint\n  }\n}\n"
	for _, tc := range []struct {
		name    string
		list    []*apps.App
		app     string
		line    int
		msgPart string
	}{
		{
			name: "public table needs its qualifier",
			list: []*apps.App{hclApp("x", "table \"t\" {\n  column \"plan_id\" {\n    type = bigint\n  }\n  foreign_key \"f\" {\n    columns     = [column.plan_id]\n    ref_columns = [table.plans.column.id]\n  }\n}\n")},
			app:  "x", line: 7, msgPart: `attribute named "plans". Hint: a table of public is referenced as table.public.plans,`,
		},
		{
			name: "unknown column",
			list: []*apps.App{hclApp("x", "table \"t\" {\n  column \"id\" {\n    type = bigint\n  }\n  primary_key {\n    columns = [column.idd]\n  }\n}\n")},
			app:  "x", line: 6, msgPart: `does not have an attribute named "idd".`,
		},
		{
			name: "unknown type",
			list: []*apps.App{hclApp("x", "table \"t\" {\n  column \"id\" {\n    type = bigintt\n  }\n}\n")},
			app:  "x", line: 3, msgPart: `There is no type named "bigintt"`,
		},
		{
			name: "table of an earlier app",
			list: []*apps.App{hclApp("a", users), hclApp("b", "\n"+users)},
			app:  "b", line: 2, msgPart: "table users already exists in this set",
		},
		{
			name: "table declared in two files",
			list: []*apps.App{{Name: "x", Files: []apps.File{
				{Path: "x/a.hcl", Kind: apps.KindHCL, Data: []byte(users)},
				{Path: "x/x.hcl", Kind: apps.KindHCL, Data: []byte("\n\n" + users)},
			}}},
			app: "x", line: 3, msgPart: "table users is declared twice (also at x/a.hcl:1)",
		},
		{
			name: "bad check expression",
			list: []*apps.App{hclApp("x", "table \"t\" {\n  column \"id\" {\n    type = bigint\n  }\n  check \"c\" {\n    expr = \"idd > 0\"\n  }\n}\n")},
			app:  "x", line: 1, msgPart: `column "idd" does not exist`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := materialize(t, db, tc.list...)
			var e *apps.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *apps.Error", err)
			}
			if e.App != tc.app || e.File != tc.app+"/"+tc.app+".hcl" || e.Line != tc.line || !strings.Contains(err.Error(), tc.msgPart) {
				t.Errorf("error = %q (%s:%d), want app %q line %d saying %q", err, e.File, e.Line, tc.app, tc.line, tc.msgPart)
			}
		})
	}
}

func TestMaterializeSQLErrorLine(t *testing.T) {
	db := sharedDB(t)
	for _, tc := range []struct {
		name  string
		app   *apps.App
		file  string
		line  int
		state string
	}{
		{
			name: "missing relation",
			app:  sqlApp("tenant", "notes.sql", "-- notes\nCREATE TABLE notes (\n  id bigint PRIMARY KEY,\n  author_id bigint REFERENCES userz (id)\n);\n"),
			file: "tenant/notes.sql", line: 4, state: "42P01",
		},
		{
			name: "syntax error after multi-byte text",
			app: sqlApp("tenant", "a.sql", "SELECT 1;", "b.sql",
				"-- Café, naïve, 日本語: PostgreSQL counts characters, not bytes.\nCREATE TABLE t (\n  x text DEFAULT 'ü'\n  y int\n);\n"),
			file: "tenant/b.sql", line: 4, state: "42601",
		},
		{
			name: "second statement",
			app:  sqlApp("tenant", "t.sql", "CREATE TABLE t (id int);\n\nINSERT INTO t VALUES ('x');\n"),
			file: "tenant/t.sql", line: 3, state: "22P02",
		},
		{
			name: "error without a quoted name",
			app:  sqlApp("tenant", "t.sql", "CREATE TABLE t (id int);\n\nSELECT 1/0;\n"),
			file: "tenant/t.sql", line: 3, state: "22012",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := materialize(t, db, tc.app)
			var e *apps.Error
			var pgErr *pgconn.PgError
			if !errors.As(err, &e) || !errors.As(err, &pgErr) {
				t.Fatalf("error %v is not an *apps.Error wrapping a *pgconn.PgError", err)
			}
			if e.App != "tenant" || e.File != tc.file || e.Line != tc.line || pgErr.Code != tc.state {
				t.Errorf("error = %q with SQLSTATE %s, want %s:%d with %s", err, pgErr.Code, tc.file, tc.line, tc.state)
			}
		})
	}
	_, err := materialize(t, db, sqlApp("tenant", "notes.sql", "CREATE TABLE notes (\n  id bigint,\n  author_id bigint REFERENCES userz (id)\n);\n"))
	if want := `app "tenant": tenant/notes.sql:3: ERROR: relation "userz" does not exist (SQLSTATE 42P01)`; fmtErr(err) != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestMaterializeRefusesUnmanaged(t *testing.T) {
	db := sharedDB(t)
	// A new schema, a temporary table and an extension are refused at load (TestHostileCorpus).
	const table = "CREATE TABLE t (id int PRIMARY KEY);\n"
	for _, tc := range []struct {
		name, sql, msgPart string
	}{
		{"view with a grant", table + "CREATE VIEW v AS SELECT id FROM t;\nGRANT SELECT ON v TO PUBLIC;", "view v: the engine re-creates views and functions from their definitions, without grants"},
		{"function with a comment", "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a';\nCOMMENT ON FUNCTION f(int) IS 'x';", "function f(a integer): the engine re-creates"},
		{"reserved view name", table + "CREATE VIEW pgschemas_v AS SELECT id FROM t;", `view pgschemas_v: the prefix "pgschemas_" is reserved`},
		{"materialized view", table + "CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;", "materialized view mv:"},
		{"window function", "CREATE FUNCTION w() RETURNS int LANGUAGE internal WINDOW AS 'window_row_number';", "window function w():"},
		{"procedure", "CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1';", "procedure p():"},
		{"trigger", table + "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();", "trigger tr on t:"},
		{"rule", table + "CREATE RULE r AS ON DELETE TO t DO INSTEAD NOTHING;", "rule r on t:"},
		{"policy", table + "CREATE POLICY p ON t USING (id > 0);", "policy p on t:"},
		{"row level security", table + "ALTER TABLE t ENABLE ROW LEVEL SECURITY;", "row level security t:"},
		{"standalone sequence", "CREATE SEQUENCE counter;", "standalone sequence counter:"},
		{"composite type", "CREATE TYPE pair AS (a int, b int);", "composite type pair:"},
		{"domain", "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');", "domain email:"},
		{"range type", "CREATE TYPE span AS RANGE (subtype = int8);", "range type span:"},
		{"partitioned table", "CREATE TABLE events (at date) PARTITION BY RANGE (at);", "partitioned table events:"},
		{"inheritance", table + "CREATE TABLE t2 (x int) INHERITS (t);", "inheritance t2:"},
		{"exclusion constraint", "CREATE TABLE t (id int, EXCLUDE USING btree (id WITH =));", "exclusion constraint t.t_id_excl:"},
		{"statistics", table + "CREATE STATISTICS st ON id, (id + 1) FROM t;", "statistics object st:"},
		{"table in public", "CREATE TABLE public.x (id int);", "table public.x was created outside the app's schema"},
		{"index on a public table", "CREATE INDEX plans_lower_name ON public.plans (lower(name));", "index public.plans_lower_name was created outside"},
		{"column added to public", "ALTER TABLE public.plans ADD COLUMN extra int;", "column public.plans.extra was created outside"},
		{"function in public", "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';", "function public.f() was created outside"},
		{"reserved name", "CREATE TABLE pgschemas_settings (id int);", `table pgschemas_settings: the prefix "pgschemas_" is reserved`},
		{"deferrable foreign key", table + "ALTER TABLE t ADD COLUMN parent int REFERENCES t DEFERRABLE;",
			`constraint t.t_parent_fkey changes in a round trip through Atlas: declared "FOREIGN KEY (parent) REFERENCES t(id) DEFERRABLE", re-created as "FOREIGN KEY (parent) REFERENCES t(id)"`},
		{"not valid check", table + "ALTER TABLE t ADD CONSTRAINT positive CHECK (id > 0) NOT VALID;", "constraint t.positive changes in a round trip"},
		{"unlogged table", "CREATE UNLOGGED TABLE t (id int);", "table t changes in a round trip"},
		{"storage parameter", "CREATE TABLE t (id int) WITH (fillfactor = 70);", "table t changes in a round trip"},
		{"grant", table + "GRANT SELECT ON t TO PUBLIC;", "table t changes in a round trip"},
		{"identity cache", "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY (CACHE 10));", "sequence t_id_seq changes in a round trip"},
		{"column statistics target", table + "ALTER TABLE t ALTER COLUMN id SET STATISTICS 500;", "column t.id changes in a round trip"},
		{"primary key name", "CREATE TABLE t (id int, CONSTRAINT t_key PRIMARY KEY (id));",
			"constraint t.t_key is lost in a round trip through Atlas"},
		{"sequence names that Atlas cannot reproduce", "CREATE TABLE a_b (c serial);\nCREATE TABLE a (b_c serial);",
			`Atlas cannot re-create table "a" from its inspection`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := materialize(t, db, sqlApp("other", "ok.sql", "CREATE TABLE ok (id int);"), sqlApp("x", "x.sql", tc.sql))
			if !errors.Is(err, apps.ErrUnmanaged) {
				t.Fatalf("error %v is not ErrUnmanaged", err)
			}
			var e *apps.Error
			if !errors.As(err, &e) || e.App != "x" {
				t.Errorf("error %v does not name app x", err)
			}
			// An object made outside the schema is blamed on its file too.
			if strings.Contains(tc.msgPart, "created outside") && (e == nil || e.File != "x/x.sql") {
				t.Errorf("error %v does not name file x/x.sql", err)
			}
			if !strings.Contains(err.Error(), tc.msgPart) {
				t.Errorf("error %q does not say %q", err, tc.msgPart)
			}
		})
	}
}

func TestMaterializeLeavesNoTrace(t *testing.T) {
	db := newDB(t)
	const publicObjects = `SELECT count(*)::text FROM pg_class WHERE relnamespace = 'public'::regnamespace`
	before := rows(t, db, publicObjects)
	for _, list := range [][]*apps.App{
		samples(t, "auth", "tenant"),
		{sqlApp("x", "x.sql", "CREATE TABLE t (id int);\nCREATE TABLE public.x (id int);\nCREATE VIEW v AS SELECT 1;")},
		{sqlApp("x", "x.sql", "CREATE TABLE t (id int) WITH (fillfactor = 50);")},
	} {
		tx := scratchTx(t, db, "scratch")
		err := apps.Materialize(context.Background(), tx, "scratch", []string{"pg_catalog"}, list...)
		if err == nil {
			// The transaction is usable, with the search_path that Materialize set, and the round
			// trip's schema is gone.
			equal(t, "search_path", rows(t, tx, "SHOW search_path"), []string{`scratch, public, pg_catalog`})
			equal(t, "round trip schemas", rows(t, tx, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgschemas%'"), nil)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	equal(t, "schemas", rows(t, db, `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY 1`), []string{"public"})
	equal(t, "objects in public", rows(t, db, publicObjects), before)
}

func TestMaterializeArguments(t *testing.T) {
	db := sharedDB(t)
	ctx := context.Background()
	tenant := samples(t, "auth")
	for _, tc := range []struct {
		name, schema, setup, msgPart string
		list                         []*apps.App
	}{
		{name: "public", schema: "public", list: tenant, msgPart: "not public"},
		{name: "bad name", schema: "bad-name", list: tenant, msgPart: "does not match"},
		{name: "missing schema", schema: "nowhere", list: tenant, msgPart: `scratch schema "nowhere" does not exist`},
		{name: "not empty", schema: "scratch", setup: "CREATE TABLE scratch.t (id int)", list: tenant, msgPart: `scratch schema "scratch" is not empty`},
		{name: "no apps", schema: "scratch", msgPart: "at least one app"},
		{name: "invalid app", schema: "scratch", list: []*apps.App{{Name: "Bad"}}, msgPart: "invalid app"},
		{name: "in a savepoint", schema: "scratch", setup: "SAVEPOINT s", list: tenant, msgPart: "inside a savepoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx := scratchTx(t, db, "scratch")
			if tc.setup != "" {
				if _, err := tx.Exec(tc.setup); err != nil {
					t.Fatal(err)
				}
			}
			err := apps.Materialize(ctx, tx, tc.schema, nil, tc.list...)
			if !strings.Contains(fmtErr(err), tc.msgPart) {
				t.Errorf("error = %v, want one saying %q", err, tc.msgPart)
			}
		})
	}
}

// The extra search path resolves names after public, as the driver's does at run time.
func TestMaterializeExtraSearchPath(t *testing.T) {
	db := newDB(t)
	if _, err := db.Exec(`CREATE SCHEMA ext; CREATE TABLE ext.countries (code text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	app := sqlApp("geo", "geo.sql", "CREATE TABLE addresses (id int PRIMARY KEY, country text REFERENCES countries (code));")
	tx := scratchTx(t, db, "scratch")
	if err := apps.Materialize(context.Background(), tx, "scratch", []string{"ext"}, app); err != nil {
		t.Fatal(err)
	}
	equal(t, "constraints", rows(t, tx, constraintsQuery), []string{
		"addresses addresses_country_fkey: FOREIGN KEY (country) REFERENCES countries(code) -> ext.countries",
		"addresses addresses_pkey: PRIMARY KEY (id)",
	})
}
