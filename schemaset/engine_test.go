package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

func TestApplySampleSet(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	// A plan on an empty database: the static tenants' foreign keys to public tables that only
	// public's plan creates must plan too, and nothing may be left behind.
	plan := planAll(t, e)
	for _, name := range []string{"public", "www", "blog", "sample"} {
		if len(plan[name]) == 0 {
			t.Errorf("plan for %s is empty", name)
		}
		if name != "public" && exists(t, db, name) {
			t.Errorf("plan created schema %s", name)
		}
	}
	if !slices.ContainsFunc(plan["www"], func(s string) bool { return strings.Contains(s, `REFERENCES "public"."plans"`) }) {
		t.Errorf("www plan = %q, want a foreign key to public.plans", plan["www"])
	}
	rep := mustApply(t, e, schemaset.ApplyOptions{})
	want := map[string]schemaset.Outcome{"public": schemaset.OutcomeApplied, "www": schemaset.OutcomeApplied,
		"blog": schemaset.OutcomeApplied, "sample": schemaset.OutcomeApplied}
	if got := outcomes(rep); !mapsEqual(got, want) {
		t.Fatalf("first apply outcomes = %v, want %v", got, want)
	}
	for schemaName, want := range map[string][]string{
		"public": {"plans.id", "plans.name", "plans.price_cents", "subscriptions.plan_id", "subscriptions.tenant"},
		"www":    {"pages.author_id", "pages.slug", "pages.title", "users.created_at", "users.email", "users.id", "users.plan_id", "users.role"},
		"blog":   {"posts.author_id", "posts.body", "posts.id", "posts.published", "posts.title", "users.created_at", "users.email", "users.id", "users.plan_id", "users.role"},
		"sample": {"notes.author_id", "notes.body", "notes.created_at", "notes.id", "settings.key", "settings.plan_id", "settings.value", "users.created_at", "users.email", "users.id", "users.plan_id", "users.role"},
	} {
		got := slices.DeleteFunc(columns(t, db, schemaName), func(s string) bool { return strings.HasPrefix(s, "pgschemas_") })
		if !slices.Equal(got, want) {
			t.Errorf("%s columns = %v, want %v", schemaName, got, want)
		}
	}
	// A foreign key from a tenant app to public points at public.
	var ref string
	if err := db.QueryRow(`SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = 'sample.settings'::regclass AND contype = 'f'`).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	if ref != "plans" && ref != "public.plans" {
		t.Errorf("sample.settings references %s, want public.plans", ref)
	}

	// Nothing to do: every schema is up to date, and a second apply finds it from the records.
	rep = mustApply(t, e, schemaset.ApplyOptions{})
	for _, r := range rep.Results {
		if r.Outcome != schemaset.OutcomeUpToDate || len(r.Statements) > 0 {
			t.Errorf("second apply: %s = %s %v, want up to date", r.Schema, r.Outcome, r.Statements)
		}
	}
	// Verify inspects everything and still finds nothing: the desired and live states compare equal.
	rep = mustApply(t, e, schemaset.ApplyOptions{Verify: true})
	for _, r := range rep.Results {
		if r.Outcome != schemaset.OutcomeUpToDate || len(r.Statements) > 0 {
			t.Errorf("verify: %s = %s %v, want up to date with no statements", r.Schema, r.Outcome, r.Statements)
		}
	}
	st, err := e.Status(ctx, rep.Targets(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != schemaset.StateUpToDate {
			t.Errorf("status %s = %s, want up to date", s.Schema, s.State)
		}
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestNoopApplyIsOneQuery counts the statements a nothing-to-do apply sends, on the wire, for 3
// and for 30 tenants: the count must not grow with the tenants.
func TestNoopApplyIsOneQuery(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	db, err := sql.Open("pgx", proxy.DSN(dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	// Statements, not round trips: a pool that opens one more connection adds round trips of
	// connection setup that say nothing about the apply.
	count := func() []string {
		proxy.Reset()
		mustApply(t, e, schemaset.ApplyOptions{})
		return slices.DeleteFunc(proxy.Statements(), func(s string) bool { return s == "-- ping" })
	}
	for i := range 3 {
		if err := e.CreateTenant(ctx, "t"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	few := count()
	for i := range 27 {
		if err := e.CreateTenant(ctx, "u"+string(rune('a'+i%26))+string(rune('a'+i/26))); err != nil {
			t.Fatal(err)
		}
	}
	many := count()
	if len(many) != len(few) {
		t.Errorf("a no-op apply sent %d statements over 3 tenants and %d over 30; want the same\n%q\n%q", len(few), len(many), few, many)
	}
	if len(many) > 8 {
		t.Errorf("a no-op apply sent %d statements; want a handful: %q", len(many), many)
	}
}

func TestCreateTenantCloneAndApps(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	set := sampleSet(t, nil)
	e := schemaset.New(set, db, schemaset.Options{})
	// Before any apply there is no reference: the tenant is made from the apps.
	if err := schemaset.EnsureRegistry(ctx, db); err != nil {
		t.Fatal(err)
	}
	mustApplyOnly(t, e, "public")
	if err := e.CreateTenant(ctx, "fromapps", schemaset.Domain{Domain: "FromApps.example.test."}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e, schemaset.ApplyOptions{})
	// Seed the reference: a clone carries its rows and continues its sequences.
	if _, err := db.Exec(`INSERT INTO sample.users (email) VALUES ('seed@example.test'); INSERT INTO sample.settings VALUES ('theme', 'dark', NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTenant(ctx, "cloned", schemaset.Domain{Domain: "shared.example.test", Folder: "cloned"}); err != nil {
		t.Fatal(err)
	}
	if got, want := columns(t, db, "cloned"), columns(t, db, "fromapps"); !slices.Equal(got, want) {
		t.Errorf("cloned columns %v != fromapps columns %v", got, want)
	}
	if got := strs(t, db, `SELECT email FROM cloned.users`); !slices.Equal(got, []string{"seed@example.test"}) {
		t.Errorf("cloned users = %v, want the reference's seed row", got)
	}
	var id int64
	if err := db.QueryRow(`INSERT INTO cloned.users (email) VALUES ('new@example.test') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id != 2 {
		t.Errorf("first new id in the clone = %d, want 2 (after the reference's 1)", id)
	}
	if got := strs(t, db, `SELECT email FROM sample.users`); !slices.Equal(got, []string{"seed@example.test"}) {
		t.Errorf("a write in the clone reached the reference: %v", got)
	}
	if got := strs(t, db, `SELECT domain || '/' || folder || ' ' || is_primary FROM pgschemas_domain ORDER BY 1`); !slices.Equal(got,
		[]string{"fromapps.example.test/ true", "shared.example.test/cloned true"}) {
		t.Errorf("domains = %v", got)
	}
	// Both are up to date without inspection, and with it.
	st, err := e.Status(ctx, []schemaset.Target{{Schema: "fromapps", Kind: schemaset.KindDynamic}, {Schema: "cloned", Kind: schemaset.KindDynamic}}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != schemaset.StateUpToDate {
			t.Errorf("%s: %s %v", s.Schema, s.State, s.Changes)
		}
	}
}

func mustApplyOnly(t testing.TB, e *schemaset.Engine, names ...string) *schemaset.Report {
	t.Helper()
	return mustRun(t, e, schemaset.Selector{Schemas: names}, schemaset.ApplyOptions{}, false)
}

func TestCreateTenantRules(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme", schemaset.Domain{Domain: "acme.example.test"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		domains []schemaset.Domain
		want    error
	}{
		{"acme", nil, schemaset.ErrTenantExists},
		{"WWW", nil, schemaset.ErrNameClash},
		{"Sample", nil, schemaset.ErrNameClash},
		{"public", nil, driver.ErrInvalidSchemaName},
		{"pg_x", nil, driver.ErrInvalidSchemaName},
		{"pgschemas_pool_1", nil, driver.ErrInvalidSchemaName},
		{"bad-name", nil, driver.ErrInvalidSchemaName},
		{"other", []schemaset.Domain{{Domain: "acme.example.test"}}, nil},
	} {
		err := e.CreateTenant(ctx, c.name, c.domains...)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("CreateTenant(%q) = %v, want %v", c.name, err, c.want)
		}
		if !strings.Contains(err.Error(), c.name) {
			t.Errorf("error %q does not name the tenant", err)
		}
	}
	// The refused "other" (its domain is taken) left nothing behind.
	if exists(t, db, "other") || len(strs(t, db, `SELECT schema_name FROM pgschemas_tenant WHERE schema_name = 'other'`)) > 0 {
		t.Error("a failed creation left a schema or a row")
	}
	// A schema that exists without a row is left untouched.
	if _, err := db.Exec(`CREATE SCHEMA stray; CREATE TABLE stray.keep (x int)`); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTenant(ctx, "stray"); !errors.Is(err, schemaset.ErrTenantExists) {
		t.Errorf("CreateTenant over an existing schema = %v, want ErrTenantExists", err)
	}
	if got := columns(t, db, "stray"); !slices.Equal(got, []string{"keep.x"}) {
		t.Errorf("stray = %v, want untouched", got)
	}
}

func TestCreateTenantHookFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	boom := errors.New("boom")
	var sawSchema string
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{AfterCreate: func(ctx context.Context, tx *sql.Tx, tenant string) error {
		sawSchema, _ = driver.SchemaFrom(ctx)
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+tenant+`.users (email) VALUES ('owner@x')`); err != nil {
			return err
		}
		return boom
	}})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "doomed", schemaset.Domain{Domain: "doomed.example.test"}); !errors.Is(err, boom) {
		t.Fatalf("CreateTenant = %v, want the hook's error", err)
	}
	if sawSchema != "doomed" {
		t.Errorf("hook ctx schema = %q, want doomed", sawSchema)
	}
	if exists(t, db, "doomed") {
		t.Error("schema left behind")
	}
	for _, q := range []string{`SELECT schema_name FROM pgschemas_tenant`, `SELECT domain FROM pgschemas_domain`,
		`SELECT schema_name FROM pgschemas_schema_state WHERE schema_name = 'doomed'`} {
		if got := strs(t, db, q); len(got) > 0 {
			t.Errorf("%s = %v, want nothing", q, got)
		}
	}
}

func TestDropTenant(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	var dropped []string
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{BeforeDrop: func(ctx context.Context, tx *sql.Tx, tenant string) error {
		dropped = append(dropped, tenant)
		return nil
	}})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme", schemaset.Domain{Domain: "acme.example.test"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"public", "www", "blog", "sample", "nobody"} {
		if err := e.DropTenant(ctx, name); !errors.Is(err, schemaset.ErrNotTenant) && !errors.Is(err, driver.ErrInvalidSchemaName) {
			t.Errorf("DropTenant(%q) = %v, want ErrNotTenant", name, err)
		}
	}
	if err := e.DropTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if exists(t, db, "acme") || len(strs(t, db, `SELECT domain FROM pgschemas_domain`)) > 0 || len(strs(t, db, `SELECT schema_name FROM pgschemas_tenant`)) > 0 {
		t.Error("drop left the schema, a domain or the row")
	}
	if !slices.Equal(dropped, []string{"acme"}) {
		t.Errorf("BeforeDrop saw %v", dropped)
	}
	for _, name := range []string{"www", "blog", "sample"} {
		if !exists(t, db, name) {
			t.Errorf("%s is gone", name)
		}
	}
}

func TestApplyChangesEveryTenant(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for _, name := range []string{"acme", "globex"} {
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO acme.notes (body) VALUES ('keep me')`); err != nil {
		t.Fatal(err)
	}
	notes := string(mustRead(t, "apps/tenant/notes.sql"))
	// (a) An added column reaches every tenant and the reference, and not the static tenants.
	added := strings.Replace(notes, "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,", 1)
	e2 := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/notes.sql": added}), db, schemaset.Options{})
	plan := planAll(t, e2)
	for _, name := range []string{"sample", "acme", "globex"} {
		if !slices.ContainsFunc(plan[name], func(s string) bool { return strings.Contains(s, `"pinned"`) }) {
			t.Errorf("plan for %s = %v, want the added column", name, plan[name])
		}
		if slices.Contains(columns(t, db, name), "notes.pinned") {
			t.Errorf("plan changed %s", name)
		}
	}
	rep := mustApply(t, e2, schemaset.ApplyOptions{})
	if got := outcomes(rep); got["www"] != schemaset.OutcomeUpToDate || got["acme"] != schemaset.OutcomeApplied {
		t.Errorf("outcomes = %v", got)
	}
	for _, name := range []string{"sample", "acme", "globex"} {
		if !slices.Contains(columns(t, db, name), "notes.pinned") {
			t.Errorf("%s lacks notes.pinned", name)
		}
	}
	// (b) A dropped column is refused without permission, and nothing runs in that schema.
	dropped := strings.Replace(added, "  created_at timestamptz NOT NULL DEFAULT now()\n", "", 1)
	dropped = strings.Replace(dropped, "pinned     boolean NOT NULL DEFAULT false,", "pinned     boolean NOT NULL DEFAULT false", 1)
	dropped = strings.Replace(dropped, "(author_id, created_at DESC)", "(author_id)", 1)
	e4 := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/notes.sql": dropped}), db, schemaset.Options{})
	targets, _ := e4.Select(ctx, schemaset.Selector{All: true})
	rep, err := e4.Apply(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rep.Err(), schemaset.ErrDestructive) || !strings.Contains(rep.Err().Error(), "notes.created_at") {
		t.Fatalf("apply without permission = %v, want ErrDestructive naming notes.created_at", rep.Err())
	}
	for _, name := range []string{"sample", "acme", "globex"} {
		if outcomes(rep)[name] != schemaset.OutcomeRefused || !slices.Contains(columns(t, db, name), "notes.created_at") {
			t.Errorf("%s: %s, columns %v: want refused and untouched", name, outcomes(rep)[name], columns(t, db, name))
		}
	}
	mustApply(t, e4, schemaset.ApplyOptions{AllowDestructive: true})
	if slices.Contains(columns(t, db, "acme"), "notes.created_at") {
		t.Error("allowed drop did not run")
	}
	if got := strs(t, db, `SELECT body FROM acme.notes`); !slices.Equal(got, []string{"keep me"}) {
		t.Errorf("acme.notes rows = %v", got)
	}
}

func planAll(t testing.TB, e *schemaset.Engine) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range mustRun(t, e, schemaset.Selector{All: true}, schemaset.ApplyOptions{}, true).Results {
		out[r.Schema] = r.Statements
	}
	return out
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	f := sampleFS(t, nil)[p]
	if f == nil {
		t.Fatalf("no %s in testdata", p)
	}
	return f.Data
}

// TestFailedSchemaIsUntouched: a statement that fails in one tenant leaves that tenant exactly as
// it was, names the statement, keeps the PostgreSQL error, and the other tenants go on.
func TestFailedSchemaIsUntouched(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for _, name := range []string{"acme", "globex"} {
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	// Two changes; the second fails in acme only (a NOT NULL column without default on a table with rows).
	if _, err := db.Exec(`INSERT INTO acme.settings VALUES ('k', 'v', NULL)`); err != nil {
		t.Fatal(err)
	}
	notes := string(mustRead(t, "apps/tenant/notes.sql"))
	changed := strings.Replace(notes, "  body       text NOT NULL,", "  body       text NOT NULL,\n  title      text,", 1)
	changed = strings.Replace(changed, "  value   text NOT NULL,", "  value   text NOT NULL,\n  owner   text NOT NULL,", 1)
	e2 := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/notes.sql": changed}), db, schemaset.Options{})
	targets, _ := e2.Select(ctx, schemaset.Selector{Tenants: true})
	rep, err := e2.Apply(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	got := outcomes(rep)
	if got["acme"] != schemaset.OutcomeFailed || got["globex"] != schemaset.OutcomeApplied || got["sample"] != schemaset.OutcomeApplied {
		t.Fatalf("outcomes = %v", got)
	}
	var te *schemaset.TargetError
	var pe *pgconn.PgError
	if err := rep.Err(); !errors.As(err, &te) || te.Schema != "acme" || !strings.Contains(te.Statement, "owner") || !errors.As(err, &pe) || pe.Code != "23502" {
		t.Errorf("error = %v; want a TargetError for acme naming the statement, with SQLSTATE 23502", err)
	}
	if slices.Contains(columns(t, db, "acme"), "notes.title") {
		t.Error("acme got the first change of a failed plan")
	}
	st, _ := e2.Status(ctx, []schemaset.Target{{Schema: "acme", Kind: schemaset.KindDynamic}}, false)
	if st[0].State != schemaset.StatePending {
		t.Errorf("acme status = %s, want pending", st[0].State)
	}
}

func TestStepRenameKeepsData(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if _, err := db.Exec(`INSERT INTO blog.users (email) VALUES ('a@x'); INSERT INTO blog.posts (title, author_id) VALUES ('Hello', 1), ('World', 1)`); err != nil {
		t.Fatal(err)
	}
	posts := strings.Replace(string(mustRead(t, "apps/blog/posts.sql")), "  title      text NOT NULL,", "  headline   text NOT NULL,", 1)
	edits := map[string]string{
		"apps/blog/posts.sql":                      posts,
		"apps/blog/steps/0001_rename_title.sql":    "ALTER TABLE posts RENAME COLUMN title TO headline;\n",
		"apps/blog/steps/0002_shout_headlines.sql": "UPDATE posts SET headline = upper(headline);\n",
	}
	e2 := schemaset.New(sampleSet(t, edits), db, schemaset.Options{})
	rep := mustApply(t, e2, schemaset.ApplyOptions{})
	for _, r := range rep.Results {
		if r.Schema == "blog" && !slices.Equal(r.Steps, []string{"blog/0001_rename_title", "blog/0002_shout_headlines"}) {
			t.Errorf("blog steps = %v", r.Steps)
		}
	}
	if got := strs(t, db, `SELECT headline FROM blog.posts ORDER BY id`); !slices.Equal(got, []string{"HELLO", "WORLD"}) {
		t.Errorf("headlines = %v, want the renamed column's data", got)
	}
	// Steps run once: a second apply, even verifying, runs none.
	if _, err := db.Exec(`UPDATE blog.posts SET headline = 'again' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	rep = mustApply(t, e2, schemaset.ApplyOptions{Verify: true})
	for _, r := range rep.Results {
		if len(r.Steps) > 0 {
			t.Errorf("%s re-ran steps %v", r.Schema, r.Steps)
		}
	}
	if got := strs(t, db, `SELECT headline FROM blog.posts ORDER BY id`); got[0] != "again" {
		t.Errorf("step re-ran: %v", got)
	}
	_ = ctx
}

// TestConcurrentApplyAndCreate: two applies at once are serialised, and a tenant created while
// an apply runs ends up fully migrated.
func TestConcurrentApplyAndCreate(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	db.SetMaxOpenConns(20)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for i := range 6 {
		if err := e.CreateTenant(ctx, "t"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	notes := string(mustRead(t, "apps/tenant/notes.sql"))
	added := strings.Replace(notes, "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,", 1)
	set2 := sampleSet(t, map[string]string{"apps/tenant/notes.sql": added})
	var wg sync.WaitGroup
	reports := make([]*schemaset.Report, 2)
	errs := make([]error, 3)
	for i := range 2 {
		wg.Go(func() {
			e := schemaset.New(set2, db, schemaset.Options{})
			targets, err := e.Select(ctx, schemaset.Selector{All: true})
			if err == nil {
				reports[i], err = e.Apply(ctx, targets, schemaset.ApplyOptions{})
			}
			errs[i] = err
		})
	}
	wg.Go(func() { errs[2] = schemaset.New(set2, db, schemaset.Options{}).CreateTenant(ctx, "during") })
	wg.Wait()
	// A creation that takes the lock before both applies finds the reference behind its apps, and
	// refuses rather than make a tenant that is behind (ErrReferenceBehind, nothing made); once
	// the applies are done, the same creation succeeds.
	if errors.Is(errs[2], schemaset.ErrReferenceBehind) {
		if got := strs(t, db, `SELECT nspname FROM pg_namespace WHERE nspname = 'during'
			UNION ALL SELECT schema_name FROM pgschemas_tenant WHERE schema_name = 'during'`); len(got) != 0 {
			t.Fatalf("a refused creation left %v", got)
		}
		errs[2] = schemaset.New(set2, db, schemaset.Options{}).CreateTenant(ctx, "during")
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	applied := 0
	for _, rep := range reports {
		if err := rep.Err(); err != nil {
			t.Fatal(err)
		}
		applied += rep.Count(schemaset.OutcomeApplied)
	}
	// One apply did the work (sample and 6 tenants, plus "during" if it existed then); the other found nothing.
	if applied < 7 || applied > 8 {
		t.Errorf("applied %d schemas over two concurrent applies; want each schema once", applied)
	}
	for _, name := range []string{"sample", "ta", "tf", "during"} {
		if !slices.Contains(columns(t, db, name), "notes.pinned") {
			t.Errorf("%s lacks notes.pinned", name)
		}
	}
}

func TestSelect(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for _, name := range []string{"beta", "alpha"} {
		if err := e.CreateTenant(ctx, name, schemaset.Domain{Domain: "shared.example.test", Folder: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		sel  schemaset.Selector
		want string
	}{
		{schemaset.Selector{All: true}, "public www blog sample alpha beta"},
		{schemaset.Selector{Static: true}, "public www blog sample"},
		{schemaset.Selector{Dynamic: true}, "alpha beta"},
		{schemaset.Selector{Tenants: true}, "sample alpha beta"},
		{schemaset.Selector{Schemas: []string{"beta", "blog.example.test", "shared.example.test/alpha"}}, "blog alpha beta"},
		{schemaset.Selector{All: true, Exclude: []string{"public", "help.example.test"}}, "www sample alpha beta"},
	} {
		targets, err := e.Select(ctx, c.sel)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tg := range targets {
			got = append(got, tg.Schema)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("Select(%+v) = %v, want %s", c.sel, got, c.want)
		}
	}
	if _, err := e.Select(ctx, schemaset.Selector{Schemas: []string{"nobody"}}); !errors.Is(err, schemaset.ErrUnknownSchema) {
		t.Errorf("unknown selector = %v", err)
	}
}

func TestForEachCarriesTheSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for _, name := range []string{"acme", "globex"} {
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	tenantDB, err := sql.Open("pgschemas", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer tenantDB.Close()
	targets, _ := e.Select(ctx, schemaset.Selector{Tenants: true})
	err = e.ForEach(ctx, targets, 2, func(ctx context.Context, tg schemaset.Target) error {
		_, err := tenantDB.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('name', current_schema())`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sample", "acme", "globex"} {
		if got := strs(t, db, `SELECT value FROM `+name+`.settings`); !slices.Equal(got, []string{name}) {
			t.Errorf("%s.settings = %v", name, got)
		}
	}
	err = e.ForEach(ctx, targets, 2, func(ctx context.Context, tg schemaset.Target) error {
		if tg.Schema == "acme" {
			return errors.New("acme failed")
		}
		return nil
	})
	var te *schemaset.TargetError
	if !errors.As(err, &te) || te.Schema != "acme" {
		t.Errorf("ForEach error = %v, want a TargetError for acme", err)
	}
}

func TestCheckTenantNameExtraSearchPath(t *testing.T) {
	hcl := strings.Replace(string(mustRead(t, "pgschemas.hcl")), `apps_dir = "apps"`, "apps_dir = \"apps\"\nextra_search_paths = [\"extensions\"]", 1)
	set := sampleSet(t, map[string]string{"pgschemas.hcl": hcl})
	if err := set.CheckTenantName("Extensions"); !errors.Is(err, schemaset.ErrNameClash) || !strings.Contains(err.Error(), "extensions") {
		t.Errorf("CheckTenantName(Extensions) = %v, want a clash with the extra search path", err)
	}
	if err := set.CheckTenantName("acme"); err != nil {
		t.Errorf("CheckTenantName(acme) = %v", err)
	}
}
