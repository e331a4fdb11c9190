package driver_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestStandaloneRunsWhatATransactionRefuses: a statement that PostgreSQL refuses inside a
// transaction block fails in a tenant's context (it shares the stamp's transaction), and runs
// with Standalone, in the tenant's schema; a missing schema still fails before it runs, and
// inside a transaction or in pooler mode Standalone is refused before anything is sent.
func TestStandaloneRunsWhatATransactionRefuses(t *testing.T) {
	dsn := tenantDB(t, "a", "b")
	db := open(t, dsn)
	db.SetMaxOpenConns(1)
	wantOwner(t, db, "b", "setup") // the connection served b first

	_, err := db.ExecContext(in("a"), "CREATE INDEX CONCURRENTLY items_owner ON items(owner)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25001" {
		t.Fatalf("CREATE INDEX CONCURRENTLY without Standalone: %v, want SQLSTATE 25001", err)
	}
	if _, err := db.ExecContext(driver.Standalone(in("a")), "CREATE INDEX CONCURRENTLY items_owner ON items(owner)"); err != nil {
		t.Fatalf("CREATE INDEX CONCURRENTLY with Standalone: %v", err)
	}
	if _, err := db.ExecContext(driver.Standalone(in("a")), "VACUUM items"); err != nil {
		t.Fatalf("VACUUM with Standalone: %v", err)
	}
	var where string
	err = db.QueryRowContext(none, "SELECT schemaname FROM pg_indexes WHERE indexname = 'items_owner'").Scan(&where)
	if err != nil || where != "a" {
		t.Errorf("the index is in %q (%v), want a", where, err)
	}
	wantOwner(t, db, "b", "after Standalone") // the session's path is nothing the next operation relies on

	_, err = db.ExecContext(driver.Standalone(in("missing")), "VACUUM items")
	if !errors.Is(err, driver.ErrSchemaNotFound) {
		t.Errorf("Standalone for a missing schema: %v, want ErrSchemaNotFound", err)
	}

	tx, err := db.BeginTx(in("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(driver.Standalone(in("a")), "VACUUM items"); !errors.Is(err, driver.ErrStandalone) {
		t.Errorf("Standalone in a transaction: %v, want ErrStandalone", err)
	}
	tx.Rollback()

	pooler := open(t, pgtest.WithParams(dsn, driver.ParamPooler, string(driver.PoolTransaction)))
	if _, err := pooler.ExecContext(driver.Standalone(in("a")), "VACUUM items"); !errors.Is(err, driver.ErrStandalone) {
		t.Errorf("Standalone in pooler mode: %v, want ErrStandalone", err)
	}
}
