package apps

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestBackstopStopsAfterAnEscape: the statements of a file reach execStmts only after the parser
// refused transaction control, so this test hands it one directly, as if the server had read a
// statement otherwise than the parser. The run stops at that statement with ErrTransactionEnded
// and its line, and the statement after it does not run.
func TestBackstopStopsAfterAnEscape(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	m := &materializer{tx: tx, schema: "s", public: "public"}
	if err := queryRow(ctx, tx, `SELECT pg_catalog.pg_current_xact_id()::text`, nil, &m.xid); err != nil {
		t.Fatal(err)
	}
	text := "CREATE TABLE before_escape (id int);\nCOMMIT;\nCREATE TABLE after_escape (id int);\n"
	stmts := []stmt{{Pos: 0, Text: text[:35]}, {Pos: 37, Text: text[37:43]}, {Pos: 45, Text: text[45:]}}
	err = m.execStmts(ctx, "x", "x/x.sql", text, stmts)
	var e *Error
	if !errors.Is(err, ErrTransactionEnded) || !errors.As(err, &e) || e.File != "x/x.sql" || e.Line != 2 {
		t.Fatalf("error = %v, want ErrTransactionEnded at x/x.sql:2", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_class WHERE relname = 'after_escape'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after_escape: %d rows, %v: the statement after the escape ran", n, err)
	}
}
