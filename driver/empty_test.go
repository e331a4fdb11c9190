package driver_test

import (
	"database/sql"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// emptyTexts hold no statement; ORMs and health checks send such texts.
var emptyTexts = []string{"", "-- a health check", ";", "/* nothing */"}

// TestEmptyQueryRunsNothing sends texts without a statement in every pool case and exec mode, in a
// tenant and in its transaction: each gives no rows and no error, as pgx stdlib does, and never a
// panic. (pgx runs an empty text with the simple protocol, whose stamp once kept the server's
// EmptyQueryResponse from pgx: database/sql then asked rows without a result for their columns,
// and pgx panicked.)
func TestEmptyQueryRunsNothing(t *testing.T) {
	eachPoolCase(t, poolCases, func(t *testing.T, pc poolCase) {
		dsn := tenantDB(t, "a")
		for _, mode := range execModes {
			t.Run(mode, func(t *testing.T) {
				db := open(t, pgtest.WithParams(pc.dsn(t, dsn), "default_query_exec_mode", mode))
				queryNothing(t, "outside a transaction", func(q string) (*sql.Rows, error) { return db.QueryContext(in("a"), q) })
				for _, q := range emptyTexts {
					if _, err := db.ExecContext(in("a"), q); err != nil {
						t.Errorf("Exec(%q): %v", q, err)
					}
				}
				tx, err := db.BeginTx(in("a"), nil)
				if err != nil {
					t.Fatal(err)
				}
				queryNothing(t, "in a transaction", func(q string) (*sql.Rows, error) { return tx.QueryContext(none, q) })
				wantOwner(t, tx, "a", "in the transaction, after the empty texts")
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// queryNothing checks that query gives no columns, no rows and no error for each of emptyTexts.
func queryNothing(t *testing.T, where string, query func(string) (*sql.Rows, error)) {
	t.Helper()
	for _, q := range emptyTexts {
		rows, err := query(q)
		if err != nil {
			t.Fatalf("%s, %q: %v", where, q, err)
		}
		if cols, err := rows.Columns(); err != nil || len(cols) != 0 {
			t.Errorf("%s, %q: columns %v (%v), want none", where, q, cols, err)
		}
		if rows.Next() {
			t.Errorf("%s, %q: a row", where, q)
		}
		if err := rows.Close(); err != nil {
			t.Errorf("%s, %q: %v", where, q, err)
		}
	}
}
