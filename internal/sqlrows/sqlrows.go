package sqlrows

import (
	"context"
	"database/sql"
)

// Querier runs a query: *sql.DB, *sql.Tx, *sql.Conn and Atlas' schema.ExecQuerier are Queriers.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Each runs query with args on db and calls scan on each row, in order. It stops at the first
// error of the query, of scan or of the rows, returns it unwrapped, and closes the rows in
// every case.
func Each(ctx context.Context, db Querier, query string, scan func(*sql.Rows) error, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
