package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// Roles belong to the cluster, and other tests run at the same time on the same server: these
// tests name their login role and their tenants with random suffixes, so that the roles are theirs.

func uniq(prefix string) string { return fmt.Sprintf("%s%08x", prefix, rand.Uint32()) }

// strictConfig is the sample set with strict on for login, one static tenant of its own, and the
// dynamic tenants' apps with a reference of its own, so that tenants are created by cloning.
func strictConfig(static, login string) string {
	return fmt.Sprintf(`apps_dir = "apps"
strict = true
strict_login_role = %q
public {
  apps = ["shared"]
}
static %q {
  apps = ["auth", "main"]
}
dynamic {
  apps = ["auth", "tenant"]
  clone_reference = %q
}
`, login, static, "ref_"+static)
}

// strictDB returns a throwaway database (its DSN and an admin pool on it) and a login role for the
// app, NOINHERIT and owning nothing, dropped when t ends with every tenant role left.
func strictDB(t *testing.T) (dsn string, db *sql.DB, login string) {
	t.Helper()
	dsn = pgtest.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	login = uniq("pgs_app_")
	if _, err := db.Exec("CREATE ROLE " + login + " LOGIN NOINHERIT"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The tenants' roles that the test left: those this database's objects depend on.
		roles := strs(t, db, `SELECT DISTINCT r.rolname FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
			WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND r.rolname LIKE 'pgschemas\_%'`)
		for _, r := range append(roles, login) {
			q := pgx.Identifier{r}.Sanitize()
			if _, err := db.Exec("DROP OWNED BY " + q + "; DROP ROLE " + q); err != nil {
				t.Errorf("drop role %s: %v", r, err)
			}
		}
		db.Close()
	})
	return dsn, db, login
}

func roleExists(t *testing.T, db *sql.DB, schema string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRow(`SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, driver.TenantRole(schema)).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("%s: got %v, want permission denied (42501)", what, err)
	}
}

func execIn(t *testing.T, db *sql.DB, ctx context.Context, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestStrictRolesFollowTheTenants: with strict = true, apply gives the static tenants their roles,
// tenant creation gives a dynamic tenant its own in the same transaction, the driver in strict mode
// then confines each tenant to its schema (and to reading public), apply keeps the grants right for
// tables added later, in a tenant's apps and in public, and dropping a tenant drops its role.
func TestStrictRolesFollowTheTenants(t *testing.T) {
	ctx := context.Background()
	dsn, db, login := strictDB(t)
	static, a, b := uniq("st_"), uniq("da_"), uniq("db_")
	cfg := strictConfig(static, login)
	set := sampleSet(t, map[string]string{"pgschemas.hcl": cfg})
	e := schemaset.New(set, db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for _, s := range []string{a, b} {
		if err := e.CreateTenant(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{static, a, b} {
		var member bool
		err := db.QueryRow(`SELECT pg_has_role($1, $2, 'MEMBER')`, login, driver.TenantRole(s)).Scan(&member)
		if err != nil || !member {
			t.Errorf("%s: the login role is a member of %s: %v, %v; want true", s, driver.TenantRole(s), member, err)
		}
	}
	if roleExists(t, db, "ref_"+static) {
		t.Errorf("the reference has a role; want none: no application runs in it")
	}
	// The app's own rights on public are the administrator's: here, to read plans without a tenant.
	execIn(t, db, ctx, "GRANT SELECT ON public.plans TO "+login)
	execIn(t, db, ctx, "INSERT INTO public.plans (name, price_cents) VALUES ('free', 0)")

	cc, err := pgx.ParseConfig(pgtest.WithParams(dsn, "user", login))
	if err != nil {
		t.Fatal(err)
	}
	dcfg := set.DriverConfig(cc)
	if !dcfg.Strict {
		t.Fatal("DriverConfig of a strict set: Strict is false")
	}
	app, err := driver.OpenDB(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	inA := driver.WithSchema(ctx, a)
	execIn(t, app, inA, "INSERT INTO users (email) VALUES ($1)", "ann@a.test")
	execIn(t, app, inA, "INSERT INTO settings (key, value, plan_id) SELECT 'plan', 'free', id FROM plans")
	var n int
	if err := app.QueryRowContext(inA, "SELECT count(*) FROM users JOIN settings ON true JOIN plans ON plans.id = settings.plan_id").Scan(&n); err != nil || n != 1 {
		t.Errorf("tenant %s reads its tables and public's: %d rows, %v; want 1", a, n, err)
	}
	for _, other := range []string{b, static} {
		_, err := app.ExecContext(inA, "SELECT count(*) FROM "+pgx.Identifier{other, "users"}.Sanitize())
		wantDenied(t, a+" reads "+other+".users", err)
	}
	_, err = app.ExecContext(inA, "INSERT INTO plans (name, price_cents) VALUES ('pro', 1)")
	wantDenied(t, a+" writes public.plans", err)
	_, err = app.ExecContext(inA, "SELECT count(*) FROM public.pgschemas_tenant")
	wantDenied(t, a+" reads the engine's registry", err)
	if err := app.QueryRowContext(ctx, "SELECT count(*) FROM plans").Scan(&n); err != nil || n != 1 {
		t.Errorf("without a tenant, the login role reads plans: %d, %v", n, err)
	}
	_, err = app.ExecContext(ctx, "SELECT count(*) FROM "+pgx.Identifier{a, "users"}.Sanitize())
	wantDenied(t, "without a tenant, reading "+a+".users", err)

	// New tables in a tenant's app and in public: apply grants them.
	set2 := sampleSet(t, map[string]string{
		"pgschemas.hcl":         cfg,
		"apps/tenant/tags.sql":  "CREATE TABLE tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);",
		"apps/shared/zones.sql": "CREATE TABLE zones (name text PRIMARY KEY);",
	})
	e2 := schemaset.New(set2, db, schemaset.Options{})
	mustApply(t, e2, schemaset.ApplyOptions{})
	execIn(t, app, inA, "INSERT INTO tags (name) VALUES ('x')")
	if err := app.QueryRowContext(inA, "SELECT count(*) FROM zones").Scan(&n); err != nil || n != 0 {
		t.Errorf("%s reads public's new table: %d, %v", a, n, err)
	}
	_, err = app.ExecContext(inA, "SELECT count(*) FROM "+pgx.Identifier{b, "tags"}.Sanitize())
	wantDenied(t, a+" reads "+b+"'s new table", err)

	// A clone of a strict tenant, as a tenant: its own role, none of a's default privileges.
	c := uniq("dc_")
	if err := e2.Clone(ctx, a, c, true); err != nil {
		t.Fatalf("clone a strict tenant: %v", err)
	}
	inC := driver.WithSchema(ctx, c)
	if err := app.QueryRowContext(inC, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 1 {
		t.Errorf("the clone %s reads its copy of users: %d, %v; want 1", c, n, err)
	}
	_, err = app.ExecContext(inC, "SELECT count(*) FROM "+pgx.Identifier{a, "users"}.Sanitize())
	wantDenied(t, "the clone reads its source", err)

	// Drop: the role goes with the tenant, in the same transaction.
	if err := e2.DropTenant(ctx, a); err != nil {
		t.Fatal(err)
	}
	if roleExists(t, db, a) {
		t.Errorf("after DropTenant(%s): its role %s is left", a, driver.TenantRole(a))
	}
	if !roleExists(t, db, b) {
		t.Errorf("after DropTenant(%s): the role of %s is gone too", a, b)
	}
	_, err = app.ExecContext(inA, "SELECT 1")
	if !errors.Is(err, driver.ErrSchemaNotFound) {
		t.Errorf("a dropped tenant: got %v, want ErrSchemaNotFound", err)
	}
}

// TestStrictTurnedOnLater: tenants created without strict get their roles from the first strict
// apply, and their drop drops the role (or nothing, when there is none).
func TestStrictTurnedOnLater(t *testing.T) {
	ctx := context.Background()
	_, db, login := strictDB(t)
	static, old, plain := uniq("st_"), uniq("do_"), uniq("dp_")
	cfg := strictConfig(static, login)
	loose := strings.NewReplacer("strict = true\n", "", fmt.Sprintf("strict_login_role = %q\n", login), "").Replace(cfg)
	e := schemaset.New(sampleSet(t, map[string]string{"pgschemas.hcl": loose}), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	for _, s := range []string{old, plain} {
		if err := e.CreateTenant(ctx, s); err != nil {
			t.Fatal(err)
		}
		if roleExists(t, db, s) {
			t.Fatalf("without strict, %s has a role", s)
		}
	}
	if err := e.DropTenant(ctx, plain); err != nil {
		t.Errorf("drop a tenant that has no role: %v", err)
	}
	e = schemaset.New(sampleSet(t, map[string]string{"pgschemas.hcl": cfg}), db, schemaset.Options{})
	rep := mustApply(t, e, schemaset.ApplyOptions{})
	if n := rep.Count(schemaset.OutcomeUpToDate); n != len(rep.Results) {
		t.Errorf("turning strict on changed %d schemas' state; want none (it is roles only)", len(rep.Results)-n)
	}
	for _, s := range []string{static, old} {
		if !roleExists(t, db, s) {
			t.Errorf("after a strict apply, %s has no role", s)
		}
	}
	if err := e.DropTenant(ctx, old); err != nil {
		t.Fatal(err)
	}
	if roleExists(t, db, old) {
		t.Errorf("after DropTenant(%s): its role is left", old)
	}
}

// TestStrictCreateTenantLeavesNothingOnFailure: a login role that does not exist fails the
// creation at the grant, and the transaction leaves no row, no schema and no role.
func TestStrictCreateTenantLeavesNothingOnFailure(t *testing.T) {
	ctx := context.Background()
	_, db, _ := strictDB(t)
	ghost := uniq("pgs_ghost_")
	e := schemaset.New(sampleSet(t, map[string]string{"pgschemas.hcl": strictConfig(uniq("st_"), ghost)}), db, schemaset.Options{})
	targets, err := e.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Apply(ctx, targets, schemaset.ApplyOptions{})
	if rep == nil || rep.Err() != nil || err == nil || !strings.Contains(err.Error(), ghost) {
		t.Fatalf("Apply with a missing login role: report %v, error %v; want the schemas applied and an error naming %s", rep, err, ghost)
	}
	name := uniq("dg_")
	err = e.CreateTenant(ctx, name)
	if err == nil || !strings.Contains(err.Error(), ghost) {
		t.Fatalf("CreateTenant with a missing login role: got %v, want an error naming %s", err, ghost)
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM pgschemas_tenant WHERE schema_name = $1`, name).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || exists(t, db, name) || roleExists(t, db, name) {
		t.Errorf("after a failed creation: %d rows, schema %v, role %v; want none", rows, exists(t, db, name), roleExists(t, db, name))
	}
}

func TestStrictConfigErrors(t *testing.T) {
	for _, tc := range []struct{ src, says string }{
		{"strict = true\n", "strict = true needs strict_login_role"},
		{"strict_login_role = \"app\"\n", `strict_login_role: "app" is set but strict is not true`},
		{"strict = \"yes\"\n", "strict: must be true or false"},
		{"strict = true\nstrict_login_role = \"" + strings.Repeat("r", 64) + "\"\n", "at most 63 bytes"},
	} {
		_, err := schemaset.ParseConfig([]byte(tc.src), "pgschemas.hcl")
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "pgschemas.hcl:") {
			t.Errorf("%q: got %v, want an error at its position saying %q", tc.src, err, tc.says)
		}
	}
	c, err := schemaset.ParseConfig([]byte("strict = true\nstrict_login_role = \"app\"\n"), "pgschemas.hcl")
	if err != nil || !c.Strict || c.StrictLoginRole != "app" {
		t.Errorf("a valid strict config: %+v, %v", c, err)
	}
}

// TestStrictSameTenantInTwoDatabases: roles belong to the cluster, so a tenant named alike in two
// databases shares one role. Both creations succeed, each database's tenant stays confined to its
// own schema there, and the role outlives the first drop, for the other database, and goes with
// the second.
func TestStrictSameTenantInTwoDatabases(t *testing.T) {
	ctx := context.Background()
	name := uniq("dt_")
	type side struct {
		dsn string
		db  *sql.DB
		e   *schemaset.Engine
	}
	login := ""
	var sides []side
	for range 2 {
		dsn, db, l := strictDB(t)
		if login == "" {
			login = l // one app login for both databases; the second one's goes unused
		}
		e := schemaset.New(sampleSet(t, map[string]string{"pgschemas.hcl": strictConfig(uniq("st_"), login)}), db, schemaset.Options{})
		mustApply(t, e, schemaset.ApplyOptions{})
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatalf("create %s in a second database: %v", name, err)
		}
		sides = append(sides, side{dsn, db, e})
	}
	app := func(s side) *sql.DB {
		db, err := sql.Open(driver.DriverName, pgtest.WithParams(s.dsn, "user", login, driver.ParamStrict, "on"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	for i, s := range sides {
		var n int
		if err := app(s).QueryRowContext(driver.WithSchema(ctx, name), "SELECT count(*) FROM users").Scan(&n); err != nil {
			t.Errorf("database %d: %s reads its users: %v", i, name, err)
		}
	}
	if err := sides[0].e.DropTenant(ctx, name); err != nil {
		t.Fatal(err)
	}
	if !roleExists(t, sides[1].db, name) {
		t.Fatalf("dropping %s in one database dropped the role that the other still uses", name)
	}
	var n int
	if err := app(sides[1]).QueryRowContext(driver.WithSchema(ctx, name), "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Errorf("the other database's %s after the first drop: %v", name, err)
	}
	if err := sides[1].e.DropTenant(ctx, name); err != nil {
		t.Fatal(err)
	}
	if roleExists(t, sides[1].db, name) {
		t.Errorf("after the last drop, the role of %s is left", name)
	}
}

// TestStrictConcurrentCreates: tenants created at the same time each get their role. Their grants
// on public's tables update the same catalog rows, which PostgreSQL refuses to do concurrently
// ("tuple concurrently updated") unless the engine serialises them.
func TestStrictConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	_, db, login := strictDB(t)
	// Tenants of an app without a foreign key to public, whose lock would serialise them.
	cfg := strings.Replace(strictConfig(uniq("st_"), login), `apps = ["auth", "tenant"]`, `apps = ["solo"]`, 1)
	e := schemaset.New(sampleSet(t, map[string]string{"pgschemas.hcl": cfg,
		"apps/solo/things.sql": "CREATE TABLE things (id int PRIMARY KEY);"}), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	db.SetMaxOpenConns(8)
	names := make([]string, 6)
	errs := make([]error, len(names))
	done := make(chan int)
	for i := range names {
		names[i] = uniq(fmt.Sprintf("dk%d_", i))
		go func() { errs[i] = e.CreateTenant(ctx, names[i]); done <- i }()
	}
	for range names {
		<-done
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %s: %v", names[i], err)
		} else if !roleExists(t, db, names[i]) {
			t.Errorf("%s has no role", names[i])
		}
	}
}

// TestStrictClaimedTenant: a tenant claimed from the warm pool (a pooled schema renamed) gets its
// role and grants in the claim's transaction, as a cloned one does, and is confined to its schema.
func TestStrictClaimedTenant(t *testing.T) {
	ctx := context.Background()
	dsn, db, login := strictDB(t)
	static, a, b := uniq("st_"), uniq("pa_"), uniq("pb_")
	cfg := strings.Replace(strictConfig(static, login), "clone_reference", "pool = 2\n  clone_reference", 1)
	set := sampleSet(t, map[string]string{"pgschemas.hcl": cfg})
	e := schemaset.New(set, db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	pooled := strs(t, db, `SELECT schema_name FROM public.pgschemas_pool ORDER BY 1`)
	if len(pooled) != 2 {
		t.Fatalf("after apply, the pool holds %v; want 2 schemas", pooled)
	}
	for _, s := range []string{a, b} {
		if err := e.CreateTenant(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if left := strs(t, db, `SELECT schema_name FROM public.pgschemas_pool`); len(left) != 0 {
		t.Fatalf("after two creations, the pool still holds %v; want both claimed", left)
	}
	cc, err := pgx.ParseConfig(pgtest.WithParams(dsn, "user", login))
	if err != nil {
		t.Fatal(err)
	}
	app, err := driver.OpenDB(set.DriverConfig(cc))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		in := driver.WithSchema(ctx, pair[0])
		execIn(t, app, in, "INSERT INTO users (email) VALUES ($1)", "x@"+pair[0]+".test")
		var n int
		if err := app.QueryRowContext(in, "SELECT count(*) FROM users").Scan(&n); err != nil || n != 1 {
			t.Errorf("claimed tenant %s reads its users: %d, %v; want 1", pair[0], n, err)
		}
		_, err := app.ExecContext(in, "SELECT count(*) FROM "+pgx.Identifier{pair[1], "users"}.Sanitize())
		wantDenied(t, pair[0]+" reads "+pair[1]+".users", err)
	}
}
