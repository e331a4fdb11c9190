package driver_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// lockCatalog takes pg_namespace in ACCESS EXCLUSIVE mode on a connection of its own, which blocks
// the driver's SET (it reads pg_namespace to prove the schema exists), until unlock.
func lockCatalog(t *testing.T, dsn string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	locker, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locker.Exec(ctx, "BEGIN; LOCK TABLE pg_catalog.pg_namespace IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return func() { locker.Exec(ctx, "ROLLBACK"); locker.Close(ctx) }
}

// TestSetTimeoutInBeginTx: a lock timeout on the SET that binds a transaction to its schema fails
// BeginTx, and the connection is not used as if set: the next transaction, and the next
// statement, run in their own schemas.
func TestSetTimeoutInBeginTx(t *testing.T) {
	// Direct connections only: a timeout set for the session does not reach a pooler's sessions.
	eachPoolCase(t, poolCases[:2], func(t *testing.T, pc poolCase) {
		dsn := tenantDB(t, "a", "b")
		db := open(t, pgtest.WithParams(pc.dsn(t, dsn), "lock_timeout", "200"))
		db.SetMaxOpenConns(1)
		wantOwner(t, db, "a", "setup")
		unlock := lockCatalog(t, dsn)
		tx, err := db.BeginTx(in("b"), nil)
		unlock()
		var se *driver.SchemaError
		var pgErr *pgconn.PgError
		if err == nil {
			tx.Rollback()
			t.Fatal("BeginTx under a locked catalog with lock_timeout 200ms: no error")
		}
		if !errors.As(err, &se) || se.Schema != "b" || !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
			t.Fatalf("BeginTx under a locked catalog: %v, want a *SchemaError for b with SQLSTATE 55P03", err)
		}
		tx, err = db.BeginTx(in("b"), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantOwner(t, tx, "b", "in the transaction after the failed BeginTx")
		if _, err := tx.ExecContext(in("b"), "INSERT INTO items VALUES ('b2')"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		wantOwner(t, db, "a", "after the failed BeginTx")
		var n int
		if err := db.QueryRowContext(in("b"), "SELECT count(*) FROM items WHERE owner = 'b2'").Scan(&n); err != nil || n != 1 {
			t.Errorf("b has %d rows b2 (%v), want the 1 the transaction wrote there", n, err)
		}
	})
}

// TestSetReplyLost: the connection fails while the driver's SET is on its way (a proxy drops the
// message and closes the connection). The operation fails with an error, the pool replaces the
// connection, and the next operations run in their own schemas.
func TestSetReplyLost(t *testing.T) {
	eachPoolCase(t, poolCases[:2], func(t *testing.T, pc poolCase) {
		dsn := tenantDB(t, "a", "b")
		proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
		db := open(t, pc.dsn(t, proxy.DSN(dsn)))
		db.SetMaxOpenConns(1)
		wantOwner(t, db, "a", "setup")
		var dropped atomic.Int32
		proxy.SetIntercept(func(typ byte, stmt string) bool {
			// The stamp travels in the statement's own message: losing one loses both.
			if (typ == 'P' || typ == 'Q') && strings.Contains(stmt, "after a lost set") && dropped.Add(1) == 1 {
				return false
			}
			return true
		})
		_, err := db.ExecContext(in("b"), "INSERT INTO items VALUES ('after a lost set')")
		proxy.SetIntercept(nil)
		if dropped.Load() == 0 {
			t.Fatal("the driver sent no SET for b")
		}
		if err == nil {
			t.Fatal("the connection failed during the SET, and the INSERT reported success")
		}
		wantOwner(t, db, "b", "after the lost SET")
		wantOwner(t, db, "a", "after the lost SET")
		var n int
		if err := db.QueryRowContext(none, "SELECT count(*) FROM b.items").Scan(&n); err != nil || n != 1 {
			t.Errorf("b has %d rows (%v), want its 1 seed: the INSERT after the lost SET ran", n, err)
		}
	})
}
