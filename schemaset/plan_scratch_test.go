package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/apps"
	"github.com/pgschemas/pgschemas/schemaset"
)

// dbFingerprint describes every schema of the database but the system's: the schemas' names (a
// scratch schema left behind shows), each relation, column and constraint with the xmin of its
// catalog row (which any change renews, and a rollback restores), each sequence's value (which a
// rollback does not restore), and every row of every table.
func dbFingerprint(t *testing.T, db *sql.DB) []string {
	t.Helper()
	const user = `n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'`
	out := strs(t, db, `SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE `+user+`
		UNION ALL SELECT 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || c.xmin
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE `+user+`
		UNION ALL SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' || a.xmin
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE `+user+` AND a.attnum > 0
		UNION ALL SELECT 'constraint ' || n.nspname || '.' || k.conname || ' ' || k.xmin
			FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE `+user+`
		UNION ALL SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'unused') FROM pg_sequences
		ORDER BY 1`)
	tables := strs(t, db, `SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE `+user+` AND c.relkind IN ('r', 'p') ORDER BY 1`)
	for _, tb := range tables {
		out = append(out, strs(t, db, `SELECT $1 || ' ' || r::text FROM `+tb+` r ORDER BY 1`, "row "+tb)...)
	}
	return out
}

// wantUnchanged fails the test when the database's fingerprint is not before, or when it holds a
// scratch schema; what names the run.
func wantUnchanged(t *testing.T, db *sql.DB, before []string, what string) {
	t.Helper()
	if after := dbFingerprint(t, db); !slices.Equal(before, after) {
		t.Errorf("%s changed the database:\n%s", what, diffLines(before, after))
	}
	if s := strs(t, db, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgschemas\_scratch\_%'`); len(s) > 0 {
		t.Errorf("%s left scratch schemas behind: %v", what, s)
	}
}

// stepSet is the sample set, applied, with rows in public, the static tenant blog and the dynamic
// tenant acme, and then loaded again with edits (new steps in each of their apps), with all of
// its schemas.
func stepSet(t *testing.T, db *sql.DB, edits map[string]string) (*schemaset.Engine, []schemaset.Target) {
	t.Helper()
	ctx := context.Background()
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO public.plans (name, price_cents) VALUES ('free', 0), ('pro', 900);
		INSERT INTO public.subscriptions VALUES ('acme', 2);
		INSERT INTO blog.users (email) VALUES ('ann@example.test');
		INSERT INTO blog.posts (title, author_id, body) VALUES ('Hello', 1, 'first');
		INSERT INTO acme.notes (body) VALUES ('remember');
		INSERT INTO acme.settings VALUES ('theme', 'dark', 1)`); err != nil {
		t.Fatal(err)
	}
	e = schemaset.New(sampleSet(t, edits), db, schemaset.Options{})
	targets, err := e.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		t.Fatal(err)
	}
	return e, targets
}

// withSteps returns the edits that rename public.plans.name, blog.posts.title and
// acme.settings.value in the apps, with the steps given, by path.
func withSteps(t *testing.T, steps map[string]string) map[string]string {
	edit := func(p, from, to string) string { return strings.Replace(readSample(t, p), from, to, 1) }
	out := map[string]string{
		"apps/shared/plans.sql": edit("apps/shared/plans.sql", "name  text NOT NULL UNIQUE", "title text NOT NULL UNIQUE"),
		"apps/blog/posts.sql":   edit("apps/blog/posts.sql", "title      text NOT NULL", "headline   text NOT NULL"),
		"apps/tenant/notes.sql": edit("apps/tenant/notes.sql", "value   text NOT NULL", "setting text NOT NULL"),
	}
	for k, v := range steps {
		out[k] = v
	}
	return out
}

// writingSteps returns withSteps with a step in public's, blog's and the dynamic tenants' apps
// that renames the column, inserts rows (which draws from the table's sequence), and updates or
// deletes rows; tail ends each step.
func writingSteps(t *testing.T, tail string) map[string]string {
	return withSteps(t, map[string]string{
		"apps/shared/steps/0001_rename_name.sql": "ALTER TABLE plans RENAME COLUMN name TO title;\n" +
			"INSERT INTO plans (title, price_cents) SELECT title || ' (old)', price_cents FROM plans;\n" +
			"DELETE FROM subscriptions;\n" + tail,
		"apps/blog/steps/0001_rename_title.sql": "ALTER TABLE posts RENAME COLUMN title TO headline;\n" +
			"INSERT INTO posts (headline, author_id) SELECT 'copy of ' || headline, author_id FROM posts;\n" +
			"UPDATE posts SET body = upper(body);\n" + tail,
		"apps/tenant/steps/0001_rename_value.sql": "ALTER TABLE settings RENAME COLUMN value TO setting;\n" +
			"INSERT INTO notes (body) SELECT 'copy of ' || body FROM notes;\n" +
			"DELETE FROM settings WHERE setting = 'dark';\n" + tail,
	})
}

// TestPlanStepsChangeNoSchema: a plan whose pending steps would change public, a static tenant and
// a dynamic tenant (rename a column, insert rows, which draws from their identity and serial
// sequences, update and delete rows) leaves every schema exactly as it was, catalog, rows and
// sequences, and leaves no scratch schema; it holds no lock on their tables that would stop live
// traffic while it runs; and it still plans the steps. With the steps run in the schemas
// themselves, in a transaction rolled back, the sequences moved on, and the renames held public's
// and blog's tables in ACCESS EXCLUSIVE mode until the plan ended.
func TestPlanStepsChangeNoSchema(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e, targets := stepSet(t, db, writingSteps(t, ""))
	before := dbFingerprint(t, db)
	// While the plan runs (its transaction is open when it reports a schema), no table of the
	// schemas is locked against live traffic's writes or reads.
	var locks []string
	observe := func(r schemaset.Result) {
		locks = append(locks, strs(t, db, `SELECT r.schema || ': ' || l.relation::regclass::text || ' ' || l.mode
			FROM pg_locks l, (VALUES ($1::text)) r(schema)
			WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid() AND l.mode <> 'AccessShareLock'
				AND l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
					WHERE n.nspname IN ('public', 'blog', 'sample', 'acme'))`, r.Schema)...)
	}
	rep, err := e.Plan(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true, OnResult: observe})
	if err != nil || rep.Err() != nil {
		t.Fatalf("plan: %v, %v", err, rep.Err())
	}
	if len(locks) > 0 {
		t.Errorf("the plan held locks on the schemas' tables: %q", locks)
	}
	wantSteps := map[string][]string{"public": {"shared/0001_rename_name"}, "blog": {"blog/0001_rename_title"},
		"sample": {"tenant/0001_rename_value"}, "acme": {"tenant/0001_rename_value"}}
	for _, r := range rep.Results {
		if want, ok := wantSteps[r.Schema]; ok && !slices.Equal(r.Steps, want) {
			t.Errorf("%s: steps %v, want %v", r.Schema, r.Steps, want)
		}
	}
	wantUnchanged(t, db, before, "the plan")
	// status --verify plans too.
	if _, err := e.Status(ctx, targets, true); err != nil {
		t.Fatal(err)
	}
	wantUnchanged(t, db, before, "status --verify")
}

// TestPlanFailedStepChangesNoSchema: the same when the steps fail midway: the plan reports each
// failure at its step's file and line with the server's error, and leaves every schema as it was
// and no scratch schema.
func TestPlanFailedStepChangesNoSchema(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e, targets := stepSet(t, db, writingSteps(t, "SELECT 1/0;\n"))
	before := dbFingerprint(t, db)
	rep, err := e.Plan(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Schema == "www" {
			continue // no step of its apps changed
		}
		var ae *apps.Error
		if r.Outcome != schemaset.OutcomeFailed || !errors.As(r.Err, &ae) || ae.Line != 4 || !strings.Contains(r.Err.Error(), "division by zero") {
			t.Errorf("%s: outcome %s, error %v; want failed at its step's line 4, division by zero", r.Schema, r.Outcome, r.Err)
		}
	}
	wantUnchanged(t, db, before, "the failed plan")
}

// TestPlanAccountsForRenameSteps: a plan whose steps rename columns lists the steps and no
// statement that drops or adds the renamed columns; a tenant's step sees public's column as
// public's step renamed it; and the apply that follows does what the plan said.
func TestPlanAccountsForRenameSteps(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e, targets := stepSet(t, db, withSteps(t, map[string]string{
		"apps/shared/steps/0001_rename_name.sql":  "ALTER TABLE plans RENAME COLUMN name TO title;\n",
		"apps/blog/steps/0001_rename_title.sql":   "ALTER TABLE posts RENAME COLUMN title TO headline;\n",
		"apps/tenant/steps/0001_rename_value.sql": "ALTER TABLE settings RENAME COLUMN value TO setting;\nUPDATE settings SET setting = (SELECT min(title) FROM plans) WHERE false;\n",
	}))
	rep, err := e.Plan(ctx, targets, schemaset.ApplyOptions{})
	if err != nil || rep.Err() != nil {
		t.Fatalf("plan: %v, %v", err, rep.Err())
	}
	planned := map[string][]string{}
	for _, r := range rep.Results {
		planned[r.Schema] = r.Statements
		for _, s := range r.Statements {
			if strings.Contains(s, "DROP COLUMN") || strings.Contains(s, "ADD COLUMN") {
				t.Errorf("%s: the plan drops or adds a column instead of relying on the step: %s", r.Schema, s)
			}
		}
		if len(r.Destructive) > 0 {
			t.Errorf("%s: destructive %v", r.Schema, r.Destructive)
		}
	}
	// blog, acme and the reference are at their desired state once the step ran.
	for _, s := range []string{"blog", "acme", "sample"} {
		if len(planned[s]) > 0 {
			t.Errorf("%s: statements %q, want none after the step", s, planned[s])
		}
	}
	applied, err := e.Apply(ctx, targets, schemaset.ApplyOptions{})
	if err != nil || applied.Err() != nil {
		t.Fatalf("apply: %v, %v", err, applied.Err())
	}
	for _, r := range applied.Results {
		if !slices.Equal(r.Statements, planned[r.Schema]) {
			t.Errorf("%s: apply ran %q, the plan said %q", r.Schema, r.Statements, planned[r.Schema])
		}
	}
	if got := strs(t, db, `SELECT headline FROM blog.posts`); !slices.Equal(got, []string{"Hello"}) {
		t.Errorf("blog.posts headlines %v after apply", got)
	}
}

// TestPlanRefusesWritesOutsideScratch: a step that writes a public table by its unqualified name
// writes the plan's copy of public, and is planned; one that names public.plans stops its
// schema's plan with ErrWroteOutsideScratch at its line, naming the table; app SQL that writes
// public stops the desired-state computation the same way. Either way the database is exactly as
// it was, with no scratch schema left.
func TestPlanRefusesWritesOutsideScratch(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e, targets := stepSet(t, db, withSteps(t, map[string]string{
		"apps/blog/steps/0001_rename_title.sql":   "ALTER TABLE posts RENAME COLUMN title TO headline;\nDELETE FROM subscriptions;\n",
		"apps/tenant/steps/0001_rename_value.sql": "ALTER TABLE settings RENAME COLUMN value TO setting;\nUPDATE public.plans SET price_cents = 0;\n",
	}))
	before := dbFingerprint(t, db)
	rep, err := e.Plan(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"acme": "public.plans (RowExclusiveLock)", "sample": "public.plans (RowExclusiveLock)"}
	for _, r := range rep.Results {
		w, ok := want[r.Schema]
		if !ok {
			if r.Err != nil && r.Outcome != schemaset.OutcomeRefused { // public drops plans.name: no step renames it here
				t.Errorf("%s: %v", r.Schema, r.Err)
			}
			continue
		}
		var ae *apps.Error
		if r.Outcome != schemaset.OutcomeFailed || !errors.Is(r.Err, schemaset.ErrWroteOutsideScratch) || !errors.As(r.Err, &ae) ||
			ae.Line != 2 || !strings.Contains(r.Err.Error(), w) {
			t.Errorf("%s: outcome %s, error %v; want ErrWroteOutsideScratch at line 2 naming %s", r.Schema, r.Outcome, r.Err, w)
		}
	}
	wantUnchanged(t, db, before, "the plan")

	// App SQL that writes public, in the desired-state computation.
	notes := readSample(t, "apps/tenant/notes.sql") + "\nUPDATE public.plans SET price_cents = 0;\n"
	e = schemaset.New(sampleSet(t, map[string]string{"apps/tenant/notes.sql": notes}), db, schemaset.Options{})
	if _, err := e.Plan(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true}); !errors.Is(err, schemaset.ErrWroteOutsideScratch) ||
		!strings.Contains(err.Error(), "public.plans (RowExclusiveLock)") {
		t.Errorf("plan with app SQL that writes public: %v, want ErrWroteOutsideScratch naming plans", err)
	}
	wantUnchanged(t, db, before, "the desired-state computation")
}
