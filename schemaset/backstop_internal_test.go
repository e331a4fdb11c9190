package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/apps"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestStepBackstop: a step's statements reach execChecked only after the parser refused
// transaction control, so this test hands it a COMMIT directly, as if the server had read a
// statement otherwise than the parser. The step stops there with apps.ErrTransactionEnded, at its
// file and line, and the statement after it does not run. The status comes from pgconn (no round
// trip) on the pgx driver.
func TestStepBackstop(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := beginPgTx(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.close()
	if st := tx.TxStatus(); st != 'T' {
		t.Fatalf("TxStatus() = %q in a transaction on the pgx driver, want 'T'", st)
	}
	st := apps.Step{App: "blog", Name: "0001_x", Path: "blog/steps/0001_x.sql"}
	stmts := []apps.Statement{{Line: 1, Text: "CREATE TABLE before_escape (id int)"}, {Line: 2, Text: "COMMIT"}, {Line: 3, Text: "CREATE TABLE after_escape (id int)"}}
	err = execChecked(ctx, tx.Tx, tx.check, st, stmts, nil)
	var e *apps.Error
	if !errors.Is(err, apps.ErrTransactionEnded) || !errors.As(err, &e) || e.App != "blog" || e.File != st.Path || e.Line != 2 {
		t.Fatalf("error = %v, want apps.ErrTransactionEnded at %s:2", err, st.Path)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_class WHERE relname = 'after_escape'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after_escape: %d rows, %v: the statement after the escape ran", n, err)
	}
	// Without the status (another driver), the transaction's id tells the same.
	tx2, err := beginPgTx(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.close()
	if err := tx2.QueryRowContext(ctx, `SELECT pg_catalog.pg_current_xact_id()::text`).Scan(&tx2.xid); err != nil {
		t.Fatal(err)
	}
	byID := func(ctx context.Context) error { return checkByID(ctx, tx2) }
	if err := execChecked(ctx, tx2.Tx, byID, st, stmts[1:2], nil); !errors.Is(err, apps.ErrTransactionEnded) {
		t.Errorf("error = %v by the transaction's id, want apps.ErrTransactionEnded", err)
	}
}
