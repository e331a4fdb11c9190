package schemaset

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/apps"
)

// pgTx is a transaction on a connection of its own, so that the connection's transaction status
// can be read after each statement of app SQL the engine runs (the backstop behind the loader's
// parser: a statement that ended the transaction stops the schema before anything else runs).
type pgTx struct {
	*sql.Tx
	conn *sql.Conn
	xid  string // the transaction's id, read when the driver does not give the status
}

var _ apps.TxStatuser = (*pgTx)(nil)

// beginPgTx starts a transaction on a connection of its own, as beginTx does (a cancel of ctx does
// not interrupt COMMIT).
func beginPgTx(ctx context.Context, db *sql.DB) (*pgTx, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &pgTx{Tx: tx, conn: conn}, nil
}

// TxStatus returns pgconn's transaction status of the connection ('T' in a transaction), or 0 when
// the driver's connection does not expose pgx's.
func (t *pgTx) TxStatus() byte {
	var st byte
	_ = t.conn.Raw(func(dc any) error {
		if c, ok := dc.(interface{ Conn() *pgx.Conn }); ok {
			st = c.Conn().PgConn().TxStatus()
		}
		return nil
	})
	return st
}

// mark records the transaction's id, for check when TxStatus is unknown.
func (t *pgTx) mark(ctx context.Context) error {
	if t.TxStatus() != 0 {
		return nil
	}
	if err := t.QueryRowContext(ctx, `SELECT pg_catalog.pg_current_xact_id()::text`).Scan(&t.xid); err != nil {
		return fmt.Errorf("read the transaction's id: %w", err)
	}
	return nil
}

// check fails with apps.ErrTransactionEnded unless the connection is still in the transaction.
func (t *pgTx) check(ctx context.Context) error {
	if st := t.TxStatus(); st != 0 {
		if st != 'T' {
			return fmt.Errorf("%w: transaction status %q after it, want 'T'", apps.ErrTransactionEnded, st)
		}
		return nil
	}
	return checkByID(ctx, t)
}

// checkByID is check by a query: the transaction's id must still be the one mark read.
func checkByID(ctx context.Context, t *pgTx) error {
	var xid string
	if err := t.QueryRowContext(ctx, `SELECT coalesce(pg_catalog.pg_current_xact_id_if_assigned()::text, '')`).Scan(&xid); err != nil {
		return fmt.Errorf("%w: %w", apps.ErrTransactionEnded, err)
	}
	if xid != t.xid {
		return fmt.Errorf("%w: the connection is in transaction %q after it, not in %s", apps.ErrTransactionEnded, xid, t.xid)
	}
	return nil
}

// close rolls back what is not committed and gives the connection back; a connection that left
// its transaction behind the engine's back is discarded instead of pooled.
func (t *pgTx) close() {
	_ = t.Rollback()
	if st := t.TxStatus(); st != 0 && st != 'I' {
		_ = t.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	t.conn.Close()
}
