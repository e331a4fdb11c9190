// Package sqlcdb is the code sqlc 1.x generates for query.sql and schema.sql (see sqlc.yaml) with
// sql_package database/sql, written by hand in sqlc's shape: the tests run what a sqlc user runs.
package sqlcdb

import (
	"context"
	"database/sql"
)

// DBTX is what *sql.DB, *sql.Conn and *sql.Tx share.
type DBTX interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}

// New returns the queries over db.
func New(db DBTX) *Queries {
	return &Queries{db: db}
}

// Queries runs the queries of query.sql.
type Queries struct {
	db DBTX
}

// WithTx returns the queries over tx.
func (q *Queries) WithTx(tx *sql.Tx) *Queries {
	return &Queries{
		db: tx,
	}
}
