package driver_test

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
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/internal/tenantsql"
)

// Roles belong to the cluster, and other tests (and other checkouts) run at the same time on the
// same server: each test makes its own login role, and tenant schemas with names of its own, so
// that their roles are its own too.

// uniqueName returns prefix followed by 8 random hex digits.
func uniqueName(prefix string) string { return fmt.Sprintf("%s%08x", prefix, rand.Uint32()) }

// loginRole creates a login role for the app in the cluster, as strict mode wants it
// (tenantsql.LoginRole), in the database at dsn. It is dropped when t ends.
func loginRole(t testing.TB, dsn string) string {
	t.Helper()
	login := uniqueName("pgs_app_")
	admin(t, dsn, tenantsql.LoginRole(login))
	t.Cleanup(func() { dropRoles(t, dsn, login) })
	return login
}

// tenantRoles gives each schema its role, as the engine does in strict mode (tenantsql.Roles
// writes the engine's grant set out), with membership for login. The roles are dropped when t
// ends, unless another database still uses them.
func tenantRoles(t testing.TB, dsn, login string, schemas ...string) {
	t.Helper()
	admin(t, dsn, tenantsql.Roles(login, schemas...))
	roles := make([]string, len(schemas))
	for i, s := range schemas {
		roles[i] = driver.TenantRole(s)
	}
	t.Cleanup(func() { dropRoles(t, dsn, roles...) })
}

// dropRoles drops roles and what they own and were granted in the database at dsn
// (tenantsql.DropRoles).
func dropRoles(t testing.TB, dsn string, roles ...string) {
	t.Helper()
	if err := tenantsql.DropRoles(context.Background(), dsn, roles...); err != nil {
		t.Error(err)
	}
}

// strictEnv is a database with two tenants, each with its role, and the app's login role.
type strictEnv struct {
	dsn   string // the database, as the admin
	app   string // the database, as the login role, in strict mode
	a, b  string // the tenant schemas
	login string
}

func newStrictEnv(t *testing.T) *strictEnv {
	t.Helper()
	e := &strictEnv{a: uniqueName("sa_"), b: uniqueName("sb_")}
	e.dsn = tenantDB(t, e.a, e.b)
	e.login = loginRole(t, e.dsn)
	tenantRoles(t, e.dsn, e.login, e.a, e.b)
	e.app = pgtest.WithParams(e.dsn, "user", e.login, driver.ParamStrict, "on")
	return e
}

// strictCases are the ways the strict tests connect: strict alone, and with the pooler mode (the
// test PgBouncer knows the postgres user only, so the pooler mode runs on a direct connection).
var strictCases = []struct{ name, params string }{
	{"strict", ""},
	{"strict+pooler", driver.ParamPooler + "=" + string(driver.PoolTransaction)},
}

func eachStrictCase(t *testing.T, f func(t *testing.T, e *strictEnv, db *sql.DB)) {
	for _, sc := range strictCases {
		t.Run(sc.name, func(t *testing.T) {
			e := newStrictEnv(t)
			dsn := e.app
			if sc.params != "" {
				k, v, _ := strings.Cut(sc.params, "=")
				dsn = pgtest.WithParams(dsn, k, v)
			}
			db := open(t, dsn)
			db.SetMaxOpenConns(1) // one connection, so that each operation follows the previous one's session
			f(t, e, db)
		})
	}
}

// wantDenied fails unless err is PostgreSQL's permission denied (SQLSTATE 42501).
func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("%s: got %v, want permission denied (42501)", what, err)
	}
}

// queryErr runs query through q and returns its error, after closing its rows: with one
// connection, rows left open would hold it.
func queryErr(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// qualified returns "<schema>.items", quoted.
func qualified(schema string) string { return pgx.Identifier{schema, "items"}.Sanitize() }

func TestStrictOtherTenantsSchemaIsDenied(t *testing.T) {
	eachStrictCase(t, func(t *testing.T, e *strictEnv, db *sql.DB) {
		a, other := in(e.a), qualified(e.b)
		ctx := context.Background()

		// Its own tenant: reads, writes, and a transaction work.
		wantOwner(t, db, e.a, "own tenant")
		if _, err := db.ExecContext(a, "INSERT INTO items VALUES ($1)", "x"); err != nil {
			t.Fatalf("insert into its own table: %v", err)
		}
		if _, err := db.ExecContext(a, "UPDATE items SET owner = owner; DELETE FROM items WHERE owner = 'x'"); err != nil {
			t.Fatalf("update and delete in its own table: %v", err)
		}
		tx, err := db.BeginTx(a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := owner(t, tx, a); got != e.a {
			t.Errorf("in a transaction: read %s's rows", got)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		// public: readable from a tenant, as designed (SELECT only).
		var n int
		if err := db.QueryRowContext(a, "SELECT count(*) FROM public.items").Scan(&n); err != nil || n != 1 {
			t.Errorf("a tenant reads public.items: %d rows, %v; want 1, nil", n, err)
		}
		_, err = db.ExecContext(a, "INSERT INTO public.items VALUES ($1)", "from-a")
		wantDenied(t, "a tenant writes public.items", err)

		// Another tenant's schema, named: denied through every kind of operation.
		wantDenied(t, "query", queryErr(a, db, "SELECT owner FROM "+other))
		_, err = db.ExecContext(a, "INSERT INTO "+other+" VALUES ($1)", "a-was-here")
		wantDenied(t, "exec with arguments", err)
		_, err = db.ExecContext(a, "DELETE FROM "+other)
		wantDenied(t, "exec without arguments (simple protocol)", err)
		if st, err := db.PrepareContext(a, "SELECT owner FROM "+other+" WHERE owner <> $1"); err == nil {
			rows, err := st.QueryContext(a, "x")
			if err == nil {
				rows.Close()
			}
			wantDenied(t, "prepared statement", err)
			st.Close()
		} else {
			wantDenied(t, "prepare", err)
		}
		if tx, err := db.BeginTx(a, nil); err != nil {
			t.Fatal(err)
		} else {
			_, err = tx.ExecContext(a, "UPDATE "+other+" SET owner = 'a'")
			wantDenied(t, "in a transaction", err)
			tx.Rollback()
		}
		rc := mustConn(t, db)
		err = driver.RawConn(a, rc, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SELECT owner FROM "+other)
			return err
		})
		wantDenied(t, "RawConn", err)
		rc.Close() // the pool has one connection

		// Without a tenant: the login role's own rights, which reach public and no tenant.
		if got := owner(t, db, none); got != "public" {
			t.Errorf("without a tenant: read %s's rows, want public's", got)
		}
		wantDenied(t, "no tenant", queryErr(none, db, "SELECT owner FROM "+qualified(e.a)))

		// The other tenant's rows are untouched.
		wantOwner(t, db, e.b, "the other tenant")
		if err := db.QueryRowContext(in(e.b), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1 {
			t.Errorf("the other tenant has %d rows, %v; want its seed row alone", n, err)
		}
	})
}

func mustConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestStrictUserSQLCannotCarryARoleOver: SET ROLE and RESET ROLE in a statement change the role
// of that statement's session, and the driver sets the tenant's role again with the next one.
func TestStrictUserSQLCannotCarryARoleOver(t *testing.T) {
	eachStrictCase(t, func(t *testing.T, e *strictEnv, db *sql.DB) {
		a, other := in(e.a), qualified(e.b)
		c := mustConn(t, db)
		for _, escape := range []string{
			"RESET ROLE",
			"SET ROLE NONE",
			"SET ROLE " + pgx.Identifier{driver.TenantRole(e.b)}.Sanitize(),
			"SELECT set_config('role', '" + driver.TenantRole(e.b) + "', false)",
			"SET SESSION AUTHORIZATION DEFAULT",
		} {
			// As its own statement, then the next operation: denied.
			_, _ = c.ExecContext(a, escape) // SET SESSION AUTHORIZATION fails (not a superuser); the others run
			wantDenied(t, escape+", then a query", queryErr(a, c, "SELECT owner FROM "+other))
			var user string
			if err := c.QueryRowContext(a, "SELECT current_user").Scan(&user); err != nil || user != driver.TenantRole(e.a) {
				t.Errorf("after %s: current_user = %q, %v; want %q", escape, user, err, driver.TenantRole(e.a))
			}
			// In a transaction: each statement of it sets the role again.
			tx, err := c.BeginTx(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = tx.ExecContext(a, escape)
			wantDenied(t, escape+" in a transaction, then a query", queryErr(a, tx, "SELECT owner FROM "+other))
			tx.Rollback()
		}

		// What can escape, as the package documentation says: a string of several statements runs
		// as one Query message after the set, so a SET ROLE in it reaches what follows it there,
		// within the login role's own rights. Those include every tenant role it is a member of.
		role := pgx.Identifier{driver.TenantRole(e.b)}.Sanitize()
		if _, err := c.ExecContext(a, "SET ROLE "+role+"; INSERT INTO "+other+" VALUES ('escaped')"); err != nil {
			t.Errorf("SET ROLE <another tenant's role>; INSERT in one string: %v; the documentation says it runs", err)
		}
		var n int
		if err := c.QueryRowContext(in(e.b), "SELECT count(*) FROM items WHERE owner = 'escaped'").Scan(&n); err != nil || n != 1 {
			t.Errorf("the escaped insert: %d rows, %v; want 1", n, err)
		}
		// RESET ROLE in one string reaches the login role itself: NOINHERIT, so no tenant.
		_, err := c.ExecContext(a, "RESET ROLE; DELETE FROM "+other)
		wantDenied(t, "RESET ROLE; DELETE in one string", err)
	})
}

// TestStrictRefusesAnUnsafeLogin: a login role that could escape the tenant roles is refused when
// a connection opens, with ErrStrictUnsafe and the reason.
func TestStrictRefusesAnUnsafeLogin(t *testing.T) {
	e := newStrictEnv(t)
	inherit := loginRole(t, e.dsn)
	admin(t, e.dsn, "ALTER ROLE "+inherit+" INHERIT")
	owner := loginRole(t, e.dsn)
	admin(t, e.dsn, "CREATE SCHEMA "+owner+"_s AUTHORIZATION "+owner)
	for _, tc := range []struct{ name, dsn, says string }{
		{"superuser", pgtest.WithParams(e.dsn, driver.ParamStrict, "on"), "superuser"},
		{"inherit", pgtest.WithParams(e.dsn, "user", inherit, driver.ParamStrict, "on"), "NOINHERIT"},
		{"owner", pgtest.WithParams(e.dsn, "user", owner, driver.ParamStrict, "on"), owner + "_s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := open(t, tc.dsn).PingContext(in(e.a))
			if !errors.Is(err, driver.ErrStrictUnsafe) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("got %v, want ErrStrictUnsafe saying %q", err, tc.says)
			}
		})
	}
	if err := open(t, e.app).PingContext(in(e.a)); err != nil {
		t.Errorf("the safe login: %v", err)
	}
}

// TestStrictMissingRole: a schema without its role (or whose role the login may not set) fails
// with ErrTenantRole, and a missing schema with ErrSchemaNotFound; neither runs the statement.
func TestStrictMissingRole(t *testing.T) {
	e := newStrictEnv(t)
	lone := uniqueName("sc_")
	admin(t, e.dsn, "CREATE SCHEMA "+lone+"; CREATE TABLE "+lone+".items (owner text)")
	db := open(t, e.app)
	_, err := db.ExecContext(in(lone), "INSERT INTO items VALUES ('x')")
	var se *driver.SchemaError
	if !errors.Is(err, driver.ErrTenantRole) || !errors.As(err, &se) || se.Schema != lone {
		t.Errorf("no role: got %v, want a SchemaError for %s wrapping ErrTenantRole", err, lone)
	}
	// A role that exists, but of which the login is not a member.
	tenantRoles(t, e.dsn, e.login, lone)
	admin(t, e.dsn, fmt.Sprintf("REVOKE %s FROM %s", pgx.Identifier{driver.TenantRole(lone)}.Sanitize(), e.login))
	_, err = db.ExecContext(in(lone), "INSERT INTO items VALUES ('x')")
	if !errors.Is(err, driver.ErrTenantRole) {
		t.Errorf("not a member: got %v, want ErrTenantRole", err)
	}
	_, err = db.ExecContext(in("nope_"+lone), "SELECT 1")
	if !errors.Is(err, driver.ErrSchemaNotFound) {
		t.Errorf("no schema: got %v, want ErrSchemaNotFound", err)
	}
	var n int
	if err := pgxCount(e.dsn, "SELECT count(*) FROM "+lone+".items", &n); err != nil || n != 0 {
		t.Errorf("%s.items has %d rows, %v; want 0", lone, n, err)
	}
}

func pgxCount(dsn, query string, n *int) error {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.QueryRow(ctx, query).Scan(n)
}

func TestTenantRole(t *testing.T) {
	long := strings.Repeat("x", 63)
	for _, tc := range []struct{ schema, want string }{
		{"acme", "pgschemas_t_acme"},
		{"Acme", "pgschemas_t_Acme"},
		{strings.Repeat("a", 51), "pgschemas_t_" + strings.Repeat("a", 51)},
	} {
		if got := driver.TenantRole(tc.schema); got != tc.want {
			t.Errorf("TenantRole(%q) = %q, want %q", tc.schema, got, tc.want)
		}
	}
	seen := map[string]string{}
	for _, s := range []string{strings.Repeat("a", 52), long, long[:62] + "y", long[:40] + "_" + long[:22], "acme", "ACME"} {
		r := driver.TenantRole(s)
		if len(r) > driver.MaxSchemaNameLen {
			t.Errorf("TenantRole(%q) = %q: %d bytes, over PostgreSQL's %d", s, r, len(r), driver.MaxSchemaNameLen)
		}
		if prev, ok := seen[r]; ok {
			t.Errorf("TenantRole(%q) = TenantRole(%q) = %q", s, prev, r)
		}
		seen[r] = s
		if driver.TenantRole(s) != r {
			t.Errorf("TenantRole(%q) is not deterministic", s)
		}
	}
}

// TestStrictRoleOfALongSchemaName: a 63-byte schema name gets a hashed role that PostgreSQL takes
// as it is, unshortened, and strict mode runs in it.
func TestStrictRoleOfALongSchemaName(t *testing.T) {
	long := uniqueName(strings.Repeat("l", 55))
	dsn := tenantDB(t, long)
	login := loginRole(t, dsn)
	tenantRoles(t, dsn, login, long)
	db := open(t, pgtest.WithParams(dsn, "user", login, driver.ParamStrict, "on"))
	var user string
	if err := db.QueryRowContext(in(long), "SELECT current_user").Scan(&user); err != nil || user != driver.TenantRole(long) {
		t.Errorf("current_user = %q, %v; want %q", user, err, driver.TenantRole(long))
	}
	wantOwner(t, db, long, "a 63-byte schema name")
}

func TestParseConfigStrict(t *testing.T) {
	for value, want := range map[string]bool{"on": true, "true": true, "1": true, "ON": true, "off": false, "false": false, "0": false} {
		cfg, err := driver.ParseConfig("host=h " + driver.ParamStrict + "=" + value)
		if err != nil || cfg.Strict != want {
			t.Errorf("%s=%s: Strict = %v, %v; want %v", driver.ParamStrict, value, cfg.Strict, err, want)
		}
	}
	_, err := driver.ParseConfig("host=h " + driver.ParamStrict + "=yes-please")
	if err == nil || !strings.Contains(err.Error(), driver.ParamStrict) || !strings.Contains(err.Error(), "on or off") {
		t.Errorf("a bad value: got %v, want an error naming %s and its values", err, driver.ParamStrict)
	}
	cfg, err := pgxpool.ParseConfig("host=h " + driver.ParamStrict + "=on")
	if err != nil {
		t.Fatal(err)
	}
	if err := driver.ConfigurePool(cfg, driver.PoolOptions{}); err != nil {
		t.Errorf("ConfigurePool with %s=on: %v; pools stamp the role as the driver does", driver.ParamStrict, err)
	}
}

// TestStrictIsolationUnderLoad runs the isolation load of TestIsolationUnderLoad in strict mode:
// every operation, in every tenant and in public, runs as its own role, and nothing leaks.
func TestStrictIsolationUnderLoad(t *testing.T) {
	l := runIsoLoad(t, isoRun{conns: 4, total: 100_000, strict: true})
	l.wantClean(t)
}

func ExampleTenantRole() {
	fmt.Println(driver.TenantRole("acme"))
	// A name too long for the prefix: shortened, and a hash of the whole name keeps it unique.
	fmt.Println(driver.TenantRole("customer_with_a_very_long_schema_name_that_uses_all_63_bytes_x"))
	// Output:
	// pgschemas_t_acme
	// pgschemas_h_customer_with_a_very_long_schema_name__b722ca66f09b
}
