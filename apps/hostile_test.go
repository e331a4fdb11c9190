package apps_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgschemas/pgschemas/apps"
)

// hostile is one app file or step that must be refused at load: its SQL, and the line of the
// statement (or of the name in it) that is refused.
type hostile struct {
	name string
	sql  string
	line int
	step bool
}

// prelude is the start of every hostile file: one harmless statement, so that the hostile one is
// not the file's first, and a comment.
const prelude = "CREATE TABLE early (id int);\n-- the next statement must be refused\n"

// spellings write a statement in ways that change nothing for PostgreSQL but hide it from a
// reader of words: comments glued to it, a form feed, tabs, newlines inside it, mixed case, and
// dollar quotes next to it that a scanner without PostgreSQL's rules reads as an open string.
// Each returns the text and the number of lines before the statement's first word.
var spellings = []struct {
	name  string
	spell func(stmt string) (string, int)
}{
	{"glued comment", func(s string) (string, int) { return s + "/**/;\n", 0 }},
	{"form feed", func(s string) (string, int) { return s + "\f;\n", 0 }},
	{"line comment", func(s string) (string, int) { return strings.ToLower(s) + "--x\n;\n", 0 }},
	{"tabs", func(s string) (string, int) { return "\t" + strings.ReplaceAll(s, " ", "\t") + "\t;\n", 0 }},
	{"mixed case and newlines", func(s string) (string, int) { return mixedCase(strings.ReplaceAll(s, " ", "\n")) + "\n;\n", 0 }},
	{"block comment before", func(s string) (string, int) { return "/* c */ " + s + " /* c */;\n", 0 }},
	{"dollar quotes around", func(s string) (string, int) { return "SELECT $$'$$;\n" + s + ";\nSELECT $$'$$;\n", 1 }},
	{"tagged dollar quote and nested comment", func(s string) (string, int) {
		return "SELECT $a$ $$ ; $a$ AS \"$$\";\n/* /* nested */ ; */" + s + ";\n", 1
	}},
}

// mixedCase alternates the case of letters outside quotes (the statements here quote only names
// and literals that do not change meaning with case: savepoint names and gids are written in lower
// case, and PostgreSQL folds unquoted names).
func mixedCase(s string) string {
	b := []byte(s)
	quoted := false
	for i, c := range b {
		if c == '\'' {
			quoted = !quoted
		}
		if !quoted && i%2 == 0 && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		} else if !quoted && i%2 == 1 && c >= 'A' && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// txStatements are every statement that controls the transaction.
var txStatements = []string{
	"COMMIT", "END", "ROLLBACK", "ABORT", "BEGIN", "START TRANSACTION", "SAVEPOINT s", "RELEASE SAVEPOINT s",
	"RELEASE s", "ROLLBACK TO SAVEPOINT s", "PREPARE TRANSACTION 'g'", "COMMIT PREPARED 'g'", "ROLLBACK PREPARED 'g'",
	"COMMIT AND CHAIN", "END WORK",
}

// clusterAndSession are statements that act beyond a schema's transaction: roles, databases,
// tablespaces, the server's configuration and files, and the session.
var clusterAndSession = []string{
	"CREATE ROLE intruder SUPERUSER LOGIN", "CREATE USER intruder", "ALTER ROLE postgres NOSUPERUSER", "DROP ROLE IF EXISTS intruder",
	"GRANT pg_read_server_files TO PUBLIC", "CREATE DATABASE other", "DROP DATABASE IF EXISTS other",
	"ALTER DATABASE postgres SET search_path = other", "CREATE TABLESPACE ts LOCATION '/tmp'", "ALTER SYSTEM SET work_mem = '1GB'",
	"SET search_path = other", "SET LOCAL search_path = other", "ALTER FUNCTION f() SET search_path = other", "RESET ALL", "SET ROLE postgres", "SET SESSION AUTHORIZATION postgres",
	"DISCARD ALL", "LISTEN events", "UNLISTEN *", "NOTIFY events", "COPY ok FROM PROGRAM 'id'", "COPY ok TO '/tmp/ok.csv'",
	"LOAD 'auto_explain'", "CHECKPOINT", "VACUUM ok", "PREPARE q AS SELECT 1", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
	"CREATE SCHEMA other", "DROP SCHEMA public CASCADE", "ALTER SCHEMA public RENAME TO gone", "CREATE EXTENSION IF NOT EXISTS pg_trgm",
	"ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC", "CALL some_procedure()", "CREATE TEMP TABLE scratchpad (id int)",
	"SELECT set_config('search_path', 'other', false)", "SELECT pg_advisory_lock(1)", "SELECT pg_terminate_backend(1)",
	"SELECT pg_catalog.pg_reload_conf()", "SELECT query_to_xml('DROP TABLE ok', true, true, '')", "DO $$ BEGIN COMMIT; END $$",
	"CREATE RULE r AS ON INSERT TO ok DO ALSO NOTIFY events", "GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC",
	"COMMENT ON SCHEMA public IS 'x'", "REASSIGN OWNED BY postgres TO postgres", "CREATE PUBLICATION p FOR ALL TABLES",
}

// otherSchemas are statements that name a schema other than public (a tenant's, another app's, the
// system's for writing, another database's).
var otherSchemas = []string{
	"CREATE TABLE acme.t (id int)", "INSERT INTO acme.notes (body) VALUES ('x')", "ALTER TABLE acme.notes ADD COLUMN x int",
	"DROP TABLE acme.notes", "CREATE INDEX ON acme.notes (id)", "CREATE TABLE t (n int REFERENCES acme.notes (id))",
	"SELECT * FROM acme.notes", "UPDATE pg_catalog.pg_class SET relname = 'x' WHERE false", "DELETE FROM pg_catalog.pg_namespace WHERE false",
	"CREATE TYPE acme.mood AS ENUM ('a')", "ALTER TABLE ok SET SCHEMA acme", "DROP TYPE acme.mood", "SELECT acme.f()",
	"CREATE TABLE t (m acme.mood)", "SELECT 1::acme.mood", "CREATE TABLE t (id serial, x int DEFAULT nextval(pg_catalog.regclass('s')), y text COLLATE acme.c)",
	"CREATE TABLE other_db.public.t (id int)", "CREATE TABLE pg_temp.t (id int)", "SELECT * FROM pg_toast.pg_toast_1",
	"TRUNCATE acme.notes", "CREATE VIEW acme.v AS SELECT 1", "CREATE FUNCTION acme.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
	"CREATE OR REPLACE VIEW v AS SELECT id FROM acme.notes", "DROP FUNCTION acme.f()",
	"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM acme.notes; END", "COMMENT ON TABLE acme.notes IS 'x'", "ALTER TABLE acme.notes RENAME TO gone",
	"EXPLAIN ANALYZE DELETE FROM acme.notes", "SELECT acme.notes.id FROM acme.notes", "COMMENT ON COLUMN acme.notes.body IS 'x'",
}

// corpus returns the hostile files and steps: every transaction statement in every spelling, in a
// file and in a step, and the others in a file and in a step.
func corpus() []hostile {
	var out []hostile
	add := func(name, stmt string, lines int, step bool) {
		where := "file"
		if step {
			where = "step"
		}
		out = append(out, hostile{name: where + "/" + name, sql: prelude + stmt, line: 3 + lines, step: step})
	}
	for _, s := range txStatements {
		for _, sp := range spellings {
			text, lines := sp.spell(s)
			add(s+"/"+sp.name, text, lines, false)
		}
		// Steps: two spellings each.
		for _, sp := range spellings[:2] {
			text, lines := sp.spell(s)
			add(s+"/"+sp.name, text, lines, true)
		}
	}
	for _, s := range append(slices.Clone(clusterAndSession), otherSchemas...) {
		add(s, s+";\n", 0, false)
		if !strings.HasPrefix(s, "DO ") { // a step may run DO (and its COMMIT then fails at run time)
			add(s, s+";\n", 0, true)
		}
	}
	return out
}

// files returns an apps root with one app, "x", that holds h as a file or a step.
func (h hostile) files() fstest.MapFS {
	fsys := fstest.MapFS{"apps/x/ok.sql": {Data: []byte("CREATE TABLE ok (id int);\n")}}
	if h.step {
		fsys["apps/x/steps/0001_hostile.sql"] = &fstest.MapFile{Data: []byte(h.sql)}
	} else {
		fsys["apps/x/x.sql"] = &fstest.MapFile{Data: []byte(h.sql)}
	}
	return fsys
}

func (h hostile) path() string {
	if h.step {
		return "x/steps/0001_hostile.sql"
	}
	return "x/x.sql"
}

// TestHostileCorpusRefusedAtLoad: each hostile file or step is refused by Load with its file and
// line, and wraps ErrInvalidApp.
func TestHostileCorpusRefusedAtLoad(t *testing.T) {
	list := corpus()
	if len(list) < 100 {
		t.Fatalf("the corpus holds %d cases, want at least 100", len(list))
	}
	for _, h := range list {
		t.Run(h.name, func(t *testing.T) {
			reg, err := apps.Load(h.files(), "apps")
			if err == nil {
				t.Fatalf("Load accepted %q (apps %v)", h.sql, reg.Names())
			}
			var e *apps.Error
			if !errors.Is(err, apps.ErrInvalidApp) || !errors.As(err, &e) {
				t.Fatalf("error %v is not an *apps.Error wrapping ErrInvalidApp", err)
			}
			if e.App != "x" || e.File != h.path() || e.Line != h.line {
				t.Errorf("refused at %s:%d (app %q), want %s:%d: %v", e.File, e.Line, e.App, h.path(), h.line, err)
			}
		})
	}
}

// TestHostileCorpusChangesNothing materialises each hostile app file (built in Go, as a caller of
// Materialize may) in a transaction that is then rolled back, as the engine does, and checks that
// the database's catalog and data are exactly as they were: no schema, table, column, role,
// database or prepared transaction added, changed or dropped, and the rows of public's tables kept.
func TestHostileCorpusChangesNothing(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	if _, err := db.Exec(`CREATE SCHEMA acme; CREATE TABLE acme.notes (id int PRIMARY KEY, body text);
		INSERT INTO acme.notes VALUES (1, 'a'), (2, 'b'); INSERT INTO public.plans (name) VALUES ('free'), ('pro')`); err != nil {
		t.Fatal(err)
	}
	before := catalogSnapshot(t, db)
	refused := 0
	for _, h := range corpus() {
		if h.step {
			continue // Materialize runs no steps; schemaset's TestHostileStepsChangeNothing runs them
		}
		app := &apps.App{Name: "x", Files: []apps.File{
			{Path: "x/ok.sql", Kind: apps.KindSQL, Data: []byte("CREATE TABLE ok (id int);\n")},
			{Path: "x/x.sql", Kind: apps.KindSQL, Data: []byte(h.sql)},
		}}
		err := func() error {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			if _, err := tx.Exec("CREATE SCHEMA pgschemas_scratch_test"); err != nil {
				t.Fatal(err)
			}
			return apps.Materialize(ctx, tx, "pgschemas_scratch_test", nil, app)
		}()
		if errors.Is(err, apps.ErrInvalidApp) {
			refused++
		} else {
			t.Errorf("%s: Materialize ran it: %v", h.name, err)
		}
	}
	// HCL whose SQL expressions would end Atlas' statement: refused when materialised, at the block.
	for _, expr := range []string{
		`check "c" {` + "\n" + `    expr = "true); COMMIT; SELECT (1"` + "\n  }",
		`column "x" {` + "\n" + `    type    = int` + "\n" + `    default = sql("1); COMMIT/**/; CREATE TABLE public.escaped (id int")` + "\n  }",
		`index "i" {` + "\n" + `    columns = [column.id]` + "\n" + `    where   = "true; END"` + "\n  }",
	} {
		hcl := "table \"t\" {\n  column \"id\" {\n    type = int\n  }\n  " + expr + "\n}\n"
		app := &apps.App{Name: "x", Files: []apps.File{{Path: "x/t.hcl", Kind: apps.KindHCL, Data: []byte(hcl)}}}
		err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			if _, err := tx.Exec("CREATE SCHEMA pgschemas_scratch_test"); err != nil {
				t.Fatal(err)
			}
			return apps.Materialize(ctx, tx, "pgschemas_scratch_test", nil, app)
		}()
		var e *apps.Error
		if !errors.Is(err, apps.ErrInvalidApp) || !errors.As(err, &e) || e.File != "x/t.hcl" || e.Line != 1 {
			t.Errorf("HCL %s: error = %v, want ErrInvalidApp at x/t.hcl:1", expr, err)
		}
	}
	if after := catalogSnapshot(t, db); !slices.Equal(before, after) {
		t.Errorf("the catalog changed:\n%s", diffLines(before, after))
	}
	t.Logf("%d hostile files refused", refused)
}

// catalogSnapshot describes what a database holds outside the system catalogs: schemas, relations
// (with the xmin of their catalog row, which any ALTER renews), columns, types, functions, roles,
// databases, prepared transactions, settings per role and database, and the rows of the tables
// of public and acme.
func catalogSnapshot(t *testing.T, db *sql.DB) []string {
	t.Helper()
	out := rows(t, db, `
SELECT 'schema ' || nspname || ' ' || xmin FROM pg_namespace WHERE nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
UNION ALL SELECT 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || c.xmin FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%temp\_%'
UNION ALL SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.xmin
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname IN ('public', 'acme') AND a.attnum > 0
UNION ALL SELECT 'type ' || t.oid::regtype::text || ' ' || t.xmin FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
-- Other tests make roles and databases at the same time: only those the corpus names are compared.
UNION ALL SELECT 'role ' || rolname || ' ' || xmin FROM pg_authid WHERE rolname IN ('postgres', 'intruder')
UNION ALL SELECT 'database ' || datname || ' ' || xmin FROM pg_database WHERE datname IN ('postgres', 'other', current_database())
UNION ALL SELECT 'setting ' || setdatabase || ' ' || setrole || ' ' || setconfig::text FROM pg_db_role_setting
	WHERE setrole IN (0, 'postgres'::regrole) AND (setdatabase = 0 OR setdatabase IN (SELECT oid FROM pg_database WHERE datname IN ('postgres', current_database())))
UNION ALL SELECT 'prepared ' || gid FROM pg_prepared_xacts
UNION ALL SELECT 'extension ' || extname FROM pg_extension
UNION ALL SELECT 'row public.plans ' || p::text FROM public.plans p
UNION ALL SELECT 'row acme.notes ' || a::text FROM acme.notes a
ORDER BY 1`)
	return out
}

// diffLines lists the lines only in a (-) and only in b (+).
func diffLines(a, b []string) string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, "- "+s)
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			out = append(out, "+ "+s)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}
