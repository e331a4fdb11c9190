package stamp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

// answers returns what the server answered to the Query text q on c: one entry per result
// ("tag" or "empty"), then the error, as a wire-level client sees them.
func answers(ctx context.Context, c *pgconn.PgConn, q string) string {
	results, err := c.Exec(ctx, q).ReadAll()
	out := ""
	for _, r := range results {
		switch {
		case r.Err != nil:
			out += fmt.Sprintf("[error %v]", r.Err)
		case r.CommandTag.String() == "":
			out += "[empty]"
		default:
			out += "[" + r.CommandTag.String() + "]"
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		out += "[error " + pgErr.Code + "]"
	} else if err != nil {
		out += fmt.Sprintf("[error %v]", err)
	}
	return out
}

// TestEmptyQueryAnswersAsTheServerDoes: a Query text with no statement ("", a comment, ";") gets
// the server's EmptyQueryResponse through a stamp too, outside and inside a transaction, as it
// does on a connection without one. Without it, pgx's Query returns rows without a result, which
// panic when asked for their columns.
func TestEmptyQueryAnswersAsTheServerDoes(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	plain, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	texts := []string{"", "-- nothing", ";", "/* nothing */ ;", "SELECT 1; ;"}
	for _, opts := range []stamp.Options{{}, {Reparse: true}} {
		t.Run(fmt.Sprintf("reparse=%v", opts.Reparse), func(t *testing.T) {
			c, sc := connect(t, dsn, pgx.QueryExecModeSimpleProtocol, opts)
			sc.SetTenant(setA)
			for _, inTx := range []bool{false, true} {
				for _, q := range texts {
					if inTx {
						if _, err := c.Exec(ctx, "BEGIN"); err != nil {
							t.Fatal(err)
						}
					}
					want := answers(ctx, plain.PgConn(), q)
					if got := answers(ctx, c.PgConn(), q); got != want {
						t.Errorf("in transaction %v, %q: answered %s, want %s as without a stamp", inTx, q, got, want)
					}
					rows, err := c.Query(ctx, q)
					if err != nil {
						t.Fatalf("Query(%q): %v", q, err)
					}
					cols := 0
					if q == "SELECT 1; ;" {
						cols = 1
					}
					if fds := rows.FieldDescriptions(); len(fds) != cols {
						t.Errorf("Query(%q): %d columns, want %d", q, len(fds), cols)
					}
					for rows.Next() {
					}
					if rows.Close(); rows.Err() != nil {
						t.Errorf("Query(%q): %v", q, rows.Err())
					}
					if inTx {
						if got := read(t, c); got != "a" { // the text ran in the transaction's set
							t.Errorf("in a transaction after %q: read %q, want a", q, got)
						}
						if _, err := c.Exec(ctx, "COMMIT"); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			// A failed set is the Query's answer: no EmptyQueryResponse follows it.
			sc.SetTenant(setMissing)
			if got, want := answers(ctx, c.PgConn(), "-- nothing"), "[error 3F000]"; got != want {
				t.Errorf("a missing schema and an empty text: answered %s, want %s", got, want)
			}
			sc.TakeSetError()
		})
	}
}
