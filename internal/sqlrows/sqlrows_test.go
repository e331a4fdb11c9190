package sqlrows_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// TestEach runs Each on one pooled connection: it hands over the rows in order, stops at the
// first error of the query, of scan or of a row, returns it as it came, and gives the connection
// back in every case, which the next query on the pool of one shows.
func TestEach(t *testing.T) {
	db, err := sql.Open("pgx", pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	collect := func(query string, stopAt int64, args ...any) ([]int64, error) {
		var got []int64
		errStop := errors.New("stop")
		err := sqlrows.Each(ctx, db, query, func(rows *sql.Rows) error {
			var v int64
			if err := rows.Scan(&v); err != nil {
				return err
			}
			got = append(got, v)
			if v == stopAt {
				return errStop
			}
			return nil
		}, args...)
		if errors.Is(err, errStop) {
			err = nil
			got = append(got, -1) // marks the stop
		}
		// The rows are closed: the pool's one connection serves the next query.
		var one int
		if qerr := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); qerr != nil || one != 1 {
			t.Fatalf("%s: the connection was not given back: %v", query, qerr)
		}
		return got, err
	}

	got, err := collect("SELECT g FROM generate_series($1::int, $2::int) g ORDER BY g", 0, 3, 6)
	if want := []int64{3, 4, 5, 6}; err != nil || !slices.Equal(got, want) {
		t.Errorf("rows: %v, %v; want %v", got, err, want)
	}
	got, err = collect("SELECT g FROM generate_series(1, 10) g ORDER BY g", 2)
	if want := []int64{1, 2, -1}; err != nil || !slices.Equal(got, want) {
		t.Errorf("scan's error: %v, %v; want %v and the error", got, err, want)
	}
	var pgErr *pgconn.PgError
	_, err = collect("SELECT g FROM no_such_table", 0)
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Errorf("query error: %v, want SQLSTATE 42P01", err)
	}
	got, err = collect("SELECT 10 / (3 - g) FROM generate_series(1, 5) g ORDER BY g", 0)
	if !errors.As(err, &pgErr) || pgErr.Code != "22012" || len(got) > 2 {
		t.Errorf("row error: %v after %v, want SQLSTATE 22012 after at most 2 rows", err, got)
	}
}
