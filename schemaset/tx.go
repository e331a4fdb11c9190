package schemaset

import (
	"context"
	"database/sql"
	"errors"
)

// inTx runs fn in a transaction (beginTx) that commits when fn returns nil and rolls back otherwise.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := beginTx(ctx, db)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// beginTx starts a transaction whose statements run with ctx, but which the end of ctx neither
// rolls back nor interrupts at COMMIT. database/sql ties a transaction to the context of BeginTx:
// a cancel that lands while COMMIT is on the wire closes the connection, and the caller gets an
// error although the server may have committed, so a schema would be reported as not applied
// when it was. Begun without cancel, a COMMIT that has started runs to its end, and its result is
// the truth; a cancel still stops the statements before it, and then the transaction rolls back.
func beginTx(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(context.WithoutCancel(ctx), nil)
}

// ignoreDone drops sql.ErrTxDone, which Rollback returns when the context already ended the
// transaction.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
