package schemaset_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/schemaset"
)

// viewsApp is an app file (after the sample's notes.sql) with an enum, a table with foreign keys
// to the schema and to public, functions (one with a BEGIN ATOMIC body that names the enum, one
// that takes the table's row type) and views (one on another, one joining public's plans).
const viewsApp = `CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE TABLE tasks (id bigint PRIMARY KEY, note_id bigint REFERENCES notes (id), plan_id bigint REFERENCES plans (id),
	mood mood NOT NULL DEFAULT 'ok', title text);
CREATE FUNCTION title_of(t tasks) RETURNS text LANGUAGE sql STABLE AS 'SELECT upper(t.title)';
CREATE FUNCTION happy(m mood) RETURNS boolean LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT m = 'ok'; END;
CREATE VIEW happy_tasks AS SELECT id, title_of(tasks) AS title, plan_id FROM tasks WHERE happy(mood);
CREATE VIEW happy_plans AS SELECT h.id, p.name FROM happy_tasks h JOIN plans p ON p.id = h.plan_id;
`

// TestViewsAndFunctions: the engine manages the views and functions of apps. They are created
// with the tables (in the reference, in a cloned tenant), found up to date by Verify, and changed
// in the schema's transaction in a safe order: the views that depend on a changed table or view
// dropped first, Atlas' statements, the functions, then the views again, dependencies first; all
// in the plan first. A view that goes is a destructive change; a change that fails leaves the
// schema as it was.
func TestViewsAndFunctions(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/z_views.sql": viewsApp}), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for _, name := range []string{"acme", "zeta"} {
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"sample", "acme"} {
		if _, err := db.Exec(`INSERT INTO public.plans (id, name, price_cents) VALUES (7, 'gold', 1) ON CONFLICT DO NOTHING;
			INSERT INTO ` + s + `.tasks (id, plan_id, title) VALUES (1, 7, 'Write'), (2, 7, 'Read');
			UPDATE ` + s + `.tasks SET mood = 'sad' WHERE id = 2`); err != nil {
			t.Fatal(err)
		}
	}
	if got := strs(t, db, `SELECT id || ' ' || name FROM acme.happy_plans`); !slices.Equal(got, []string{"1 gold"}) {
		t.Errorf("acme.happy_plans = %v", got)
	}
	rep := mustRun(t, e, schemaset.Selector{All: true}, schemaset.ApplyOptions{Verify: true}, true)
	for _, r := range rep.Results {
		if len(r.Statements) > 0 {
			t.Errorf("%s: Verify plans %q right after the apply", r.Schema, r.Statements)
		}
	}

	// A new column, a function's new body, a view's new column.
	changed := strings.NewReplacer("upper(t.title)", "lower(t.title)", "title text", "title text, due date",
		"SELECT h.id, p.name", "SELECT h.id, h.title, p.name").Replace(viewsApp)
	e2 := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/z_views.sql": changed}), db, schemaset.Options{})
	rep = mustRun(t, e2, schemaset.Selector{Schemas: []string{"acme"}}, schemaset.ApplyOptions{}, true)
	want := []string{
		`SET LOCAL check_function_bodies = off`,
		`DROP VIEW "acme"."happy_plans"`,
		`DROP VIEW "acme"."happy_tasks"`,
		`ALTER TABLE "acme"."tasks" ADD COLUMN "due" date NULL`,
		`CREATE OR REPLACE FUNCTION "acme"."title_of"(t tasks)`,
		`CREATE VIEW "acme"."happy_tasks" AS`,
		`CREATE VIEW "acme"."happy_plans" AS SELECT h.id,` + "\n    h.title,",
	}
	if got := rep.Results[0].Statements; !prefixes(got, want) {
		t.Errorf("plan of acme:\n%s\nwant statements starting with:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A hand-made materialized view on happy_tasks stops the apply of acme: nothing of it stays.
	if _, err := db.Exec(`CREATE MATERIALIZED VIEW acme.frozen AS SELECT * FROM acme.happy_tasks`); err != nil {
		t.Fatal(err)
	}
	targets, err := e2.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = e2.Apply(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(rep); got["acme"] != schemaset.OutcomeFailed || got["sample"] != schemaset.OutcomeApplied {
		t.Fatalf("outcomes %v, want acme failed (a materialized view depends on happy_tasks) and sample applied", got)
	}
	if slices.Contains(columns(t, db, "acme"), "tasks.due") {
		t.Errorf("acme has tasks.due after its failed apply")
	}
	if got := strs(t, db, `SELECT title FROM acme.happy_tasks`); !slices.Equal(got, []string{"WRITE"}) {
		t.Errorf("acme.happy_tasks after the failed apply = %v, want the old function's [WRITE]", got)
	}
	if got := strs(t, db, `SELECT id || ' ' || title || ' ' || name FROM sample.happy_plans`); !slices.Equal(got, []string{"1 write gold"}) {
		t.Errorf("sample.happy_plans = %v, want the new view and function", got)
	}
	if _, err := db.Exec(`DROP MATERIALIZED VIEW acme.frozen`); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e2, schemaset.ApplyOptions{})
	if got := strs(t, db, `SELECT id || ' ' || title || ' ' || name FROM acme.happy_plans`); !slices.Equal(got, []string{"1 write gold"}) {
		t.Errorf("acme.happy_plans = %v, want the new view and function", got)
	}

	// A view and a function that no app declares any more are destructive changes.
	gone := strings.NewReplacer("CREATE VIEW happy_plans AS SELECT h.id, h.title, p.name FROM happy_tasks h JOIN plans p ON p.id = h.plan_id;\n", "").Replace(changed)
	e3 := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/z_views.sql": gone}), db, schemaset.Options{})
	rep, err = e3.Apply(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Kind == schemaset.KindReference || r.Kind == schemaset.KindDynamic {
			if r.Outcome != schemaset.OutcomeRefused || !errors.Is(r.Err, schemaset.ErrDestructive) || !slices.Equal(r.Destructive, []string{"drop view happy_plans"}) {
				t.Errorf("%s: %s %v %v, want refused: drop view happy_plans", r.Schema, r.Outcome, r.Destructive, r.Err)
			}
		}
	}
	mustApply(t, e3, schemaset.ApplyOptions{AllowDestructive: true})
	if got := strs(t, db, `SELECT schemaname || '.' || viewname FROM pg_views WHERE viewname LIKE 'happy%' ORDER BY 1`); !slices.Equal(got, []string{"acme.happy_tasks", "sample.happy_tasks", "zeta.happy_tasks"}) {
		t.Errorf("views after the drop: %v", got)
	}

	// A function's new body reaches a tenant that replays its group's plan (plan once, apply
	// many): the statement names the tenant's schema.
	body := strings.Replace(gone, "SELECT m = 'ok'", "SELECT m <> 'sad'", 1)
	e4 := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/z_views.sql": body}), db, schemaset.Options{})
	rep = mustApply(t, e4, schemaset.ApplyOptions{})
	for _, r := range rep.Results {
		if r.Schema == "zeta" && (!r.Shared || len(r.Statements) != 2 || !strings.HasPrefix(r.Statements[1], `CREATE OR REPLACE FUNCTION "zeta"."happy"(m mood)`)) {
			t.Errorf("zeta: shared %v, statements %q", r.Shared, r.Statements)
		}
	}
	for _, s := range []string{"acme", "zeta"} {
		if got := strs(t, db, `SELECT pg_get_functiondef('`+s+`.happy'::regproc)`); len(got) != 1 || !strings.Contains(got[0], "<> 'sad'") {
			t.Errorf("%s.happy = %q", s, got)
		}
	}
}

// prefixes reports whether each of got starts with the want at its index, and they are as many.
func prefixes(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}
