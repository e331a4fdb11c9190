package driver_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/driver"
)

// TestAttackDroppedTenant: the admin drops tenant A's schema while the pool's one connection,
// which has just served A (its statements cached), is idle. A's next read, insert, and insert in
// a transaction fail with ErrSchemaNotFound, and none of them reads or writes public (or B), where
// PostgreSQL would resolve the names once A's schema is gone. B is served as before.
func TestAttackDroppedTenant(t *testing.T) {
	const insert = "INSERT INTO notes (owner, note) VALUES ($1, $2)"
	eachAttackMode(t, func(t *testing.T, m attackMode) {
		e := newAttackEnv(t, m, 2, notesSetup)
		a, b := e.tenants[0], e.tenants[1]
		c := e.open(t, e.app, 1)
		wantSeed(t, c, a, "before the drop: A's read")
		if err := c.exec(in(a), insert, a, "before the drop"); err != nil {
			t.Fatal(err)
		}
		admin(t, e.admin, "DROP SCHEMA "+pgx.Identifier{a}.Sanitize()+" CASCADE")

		owners, err := c.texts(in(a), "SELECT owner FROM notes WHERE note = 'seed'")
		wantSchemaNotFound(t, m, "A's read", err)
		if len(owners) != 0 {
			t.Errorf("A's read after the drop saw the seed rows of %q", owners)
		}
		wantSchemaNotFound(t, m, "A's insert", c.exec(in(a), insert, a, "after the drop"))
		if tx, commit, err := c.begin(in(a)); err != nil {
			wantSchemaNotFound(t, m, "A's BeginTx", err)
		} else {
			wantSchemaNotFound(t, m, "A's insert in a transaction", tx.exec(in(a), insert, a, "after the drop"))
			_ = commit()
		}

		var n int
		for _, s := range []string{"public", b} {
			q := "SELECT count(*) FROM " + pgx.Identifier{s, "notes"}.Sanitize() + " WHERE note = 'after the drop'"
			if err := e.adminPool.QueryRow(context.Background(), q).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s.notes holds %d rows of A's inserts after the drop (%v), want 0", s, n, err)
			}
		}
		wantSeed(t, c, b, "after the drop: B's read")
	})
}

// wantSchemaNotFound fails unless err is driver.ErrSchemaNotFound; for a pgxpool it also takes
// PostgreSQL's own error for the missing schema, SQLSTATE 3F000, which a pool may return as it is.
func wantSchemaNotFound(t *testing.T, m attackMode, what string, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, driver.ErrSchemaNotFound):
	case m.pool && errors.As(err, &pgErr) && pgErr.Code == "3F000":
		t.Logf("%s: %v (SQLSTATE 3F000, not driver.ErrSchemaNotFound)", what, err)
	default:
		t.Errorf("%s after the drop: got %v, want driver.ErrSchemaNotFound", what, err)
	}
}
