package schemaset

import (
	"context"
	"database/sql"
	"errors"
)

// inTx runs fn in a transaction that commits when fn returns nil and rolls back otherwise.
//
// fn's statements run with ctx, so a cancel stops them, and fn fails. The transaction itself is
// begun without ctx's cancel: database/sql would otherwise roll it back as ctx ends, racing the
// COMMIT, and a cancel that came with the COMMIT would give an error for a transaction that the
// server committed. So an error means nothing was committed, unless the connection itself failed
// during the COMMIT.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// ignoreDone drops sql.ErrTxDone, which Rollback returns when the context already ended the
// transaction.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
