package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/apps"
	"github.com/pgschemas/pgschemas/schemaset"
)

// hostileEdits are sample sets whose app SQL or steps try to leave the engine's transaction; the
// loader must refuse each. The first is the sample set itself, which must load and plan.
var hostileEdits = []map[string]string{
	nil,
	{"apps/tenant/notes.sql": "CREATE TABLE notes (id int PRIMARY KEY);\nCOMMIT/**/;\n"},
	{"apps/tenant/notes.sql": "CREATE TABLE notes (id int PRIMARY KEY);\nEND\f;\n"},
	{"apps/tenant/notes.sql": "CREATE TABLE notes (id int PRIMARY KEY);\nCOMMIT--x\n;\n"},
	{"apps/shared/plans.sql": "CREATE TABLE plans (id bigint PRIMARY KEY);\nROLLBACK/**/;\nDROP TABLE IF EXISTS keepme;\n"},
	{"apps/tenant/notes.sql": "CREATE TABLE notes (id int PRIMARY KEY);\nDROP SCHEMA public CASCADE;\n"},
	{"apps/tenant/notes.sql": "CREATE TABLE notes (id int PRIMARY KEY);\nCREATE ROLE intruder;\n"},
	{"apps/tenant/steps/0001_x.sql": "CREATE TABLE partial_step (id int);\nCOMMIT/**/;\nSELECT 1/0;\n"},
}

// publicSnapshot describes public and the schemas of the database: every relation of public with
// the xmin of its catalog row (which any change renews), every column, the rows of keepme, and the
// names of all schemas (a scratch schema left behind shows here).
func publicSnapshot(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return strs(t, db, `SELECT 'relation ' || c.oid::regclass::text || ' ' || c.xmin FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
		UNION ALL SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || a.xmin FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0
		UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%temp\_%'
		UNION ALL SELECT 'role ' || rolname FROM pg_roles WHERE rolname = 'intruder'
		UNION ALL SELECT 'row ' || k::text FROM public.keepme k
		ORDER BY 1`)
}

// TestPlanKeepsUndeclaredPublicTables: plan and status --verify on a database whose public holds
// a table no app declares (with rows) leave it, and everything in public, exactly as it was, and
// leave no scratch schema, whatever the apps hold: hostile sets are refused at load.
func TestPlanKeepsUndeclaredPublicTables(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	if err := schemaset.EnsureRegistry(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE public.keepme (id int PRIMARY KEY, v text); INSERT INTO public.keepme VALUES (1, 'a'), (2, 'b'), (3, 'c')`); err != nil {
		t.Fatal(err)
	}
	before := publicSnapshot(t, db)
	for i, edits := range hostileEdits {
		set, err := schemaset.Load(sampleFS(t, edits), "pgschemas.hcl")
		if err != nil {
			if i == 0 || !errors.Is(err, apps.ErrInvalidApp) {
				t.Fatalf("set %d: load: %v", i, err)
			}
		} else {
			if i > 0 {
				t.Errorf("set %d (%v) loaded", i, edits)
			}
			e := schemaset.New(set, db, schemaset.Options{})
			targets, err := e.Select(ctx, schemaset.Selector{All: true})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := e.Plan(ctx, targets, schemaset.ApplyOptions{AllowDestructive: true, ContinueOnError: true})
			if i == 0 && (err != nil || rep.Err() != nil) {
				t.Fatalf("plan of the sample set: %v, %v", err, rep.Err())
			}
			if i == 0 && !slices.ContainsFunc(rep.Results, func(r schemaset.Result) bool {
				return r.Schema == "public" && slices.ContainsFunc(r.Destructive, func(d string) bool { return strings.Contains(d, "keepme") })
			}) {
				t.Errorf("public's plan does not drop keepme: %+v", rep.Results)
			}
			_, _ = e.Status(ctx, targets, true)
		}
		if after := publicSnapshot(t, db); !slices.Equal(before, after) {
			t.Fatalf("set %d: public or the schemas changed:\nbefore %q\nafter  %q", i, before, after)
		}
	}
}

// TestFailedStepLeavesSchemaExactly: a step that fails leaves its schema exactly as it was (its
// tables, columns and rows), and its error names the step's app, file and line, keeping the
// server's error; a step that tries to commit part of its work is refused at load, and the schema
// is as it was too.
func TestFailedStepLeavesSchemaExactly(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	mustApply(t, schemaset.New(sampleSet(t, nil), db, schemaset.Options{}), schemaset.ApplyOptions{})
	if _, err := db.Exec(`INSERT INTO blog.users (email) VALUES ('a@x'); INSERT INTO blog.posts (title, author_id) VALUES ('Hello', 1)`); err != nil {
		t.Fatal(err)
	}
	snapshot := func() []string {
		return strs(t, db, `SELECT 'relation ' || c.oid::regclass::text || ' ' || c.xmin FROM pg_class c WHERE c.relnamespace = 'blog'::regnamespace
			UNION ALL SELECT 'relation ' || c.oid::regclass::text FROM pg_class c WHERE c.relname = 'partial_step'
			UNION ALL SELECT 'post ' || p::text FROM blog.posts p ORDER BY 1`)
	}
	before := snapshot()
	const path = "apps/blog/steps/0001_partial.sql"
	set := sampleSet(t, map[string]string{path: "CREATE TABLE partial_step (id int);\nUPDATE posts SET title = 'changed';\nSELECT 1/0;\n"})
	e := schemaset.New(set, db, schemaset.Options{})
	rep, err := e.Apply(ctx, []schemaset.Target{{Schema: "blog", Kind: schemaset.KindStatic}}, schemaset.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var te *schemaset.TargetError
	var ae *apps.Error
	var pe *pgconn.PgError
	if err := rep.Err(); !errors.As(err, &te) || te.Step != "blog/0001_partial" || !errors.As(err, &ae) || !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a TargetError of step blog/0001_partial with an *apps.Error and a *pgconn.PgError", err)
	}
	if ae.App != "blog" || ae.File != "blog/steps/0001_partial.sql" || ae.Line != 3 || pe.Code != "22012" {
		t.Errorf("error at app %q %s:%d with SQLSTATE %s, want blog/steps/0001_partial.sql:3 with 22012: %v", ae.App, ae.File, ae.Line, pe.Code, err)
	}
	if after := snapshot(); !slices.Equal(before, after) {
		t.Errorf("the failed step changed its schema:\nbefore %q\nafter  %q", before, after)
	}
	// The same step with a COMMIT in it.
	set, err = schemaset.Load(sampleFS(t, map[string]string{path: "CREATE TABLE partial_step (id int);\nCOMMIT/**/;\nSELECT 1/0;\n"}), "pgschemas.hcl")
	if err == nil {
		rep, err := schemaset.New(set, db, schemaset.Options{}).Apply(ctx, []schemaset.Target{{Schema: "blog", Kind: schemaset.KindStatic}}, schemaset.ApplyOptions{})
		t.Errorf("a step with COMMIT/**/ loaded; apply: %v, %v", err, rep.Err())
	} else if !errors.Is(err, apps.ErrInvalidApp) || !strings.Contains(err.Error(), "blog/steps/0001_partial.sql:2: ") {
		t.Errorf("load error = %v, want ErrInvalidApp at blog/steps/0001_partial.sql:2", err)
	}
	if after := snapshot(); !slices.Equal(before, after) {
		t.Errorf("the step with a COMMIT changed its schema:\nbefore %q\nafter  %q", before, after)
	}
}
