package resolve

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the second pool

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openDB opens a fresh throwaway database with driverName, with the registry tables, and closes it
// when the test ends.
func openDB(t testing.TB, driverName string) (*sql.DB, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	db := openDSN(t, driverName, dsn)
	if err := schemaset.EnsureRegistry(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db, dsn
}

// openDSN opens dsn with driverName and closes it when the test ends.
func openDSN(t testing.TB, driverName, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// exec runs statements on db, failing the test on an error.
func exec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// addTenant inserts a dynamic tenant (without creating its schema, which routing does not need).
func addTenant(t testing.TB, db *sql.DB, schema string) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO public.pgschemas_tenant (schema_name) VALUES ($1)`, schema); err != nil {
		t.Fatalf("add tenant %s: %v", schema, err)
	}
}

// addDomain inserts a domain row.
func addDomain(t testing.TB, db *sql.DB, domain, folder, tenant string, primary, redirect bool) {
	t.Helper()
	_, err := db.Exec(`INSERT INTO public.pgschemas_domain (domain, folder, tenant, is_primary, redirect_to_primary)
		VALUES ($1, $2, $3, $4, $5)`, domain, folder, tenant, primary, redirect)
	if err != nil {
		t.Fatalf("add domain %s/%s: %v", domain, folder, err)
	}
}

// newResolver returns a Resolver closed when the test ends.
func newResolver(t testing.TB, cfg *schemaset.Config, db *sql.DB, opts Options) *Resolver {
	t.Helper()
	r, err := New(cfg, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// waitFor polls cond every 5 ms until it holds, and fails the test with what when it does not
// within limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitListening waits until every resolver listens.
func waitListening(t testing.TB, rs ...*Resolver) {
	t.Helper()
	for _, r := range rs {
		waitFor(t, 10*time.Second, "the resolver listens", r.Listening)
	}
}
