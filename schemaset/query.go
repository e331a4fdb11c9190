package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/driver"
)

// StatementResult is what one statement of a Query returned.
type StatementResult struct {
	// Command is the server's command tag: "SELECT 2", "INSERT 0 1", "CREATE TABLE".
	Command string `json:"command"`
	// Columns names the columns of a statement that returns rows, and Rows holds them, each value
	// in PostgreSQL's text format, nil for NULL. Both are nil for a statement that returns none.
	Columns []string    `json:"columns"`
	Rows    [][]*string `json:"rows"`
}

// QueryResult is what Query did in one schema.
type QueryResult struct {
	Target
	// Statements are the results of the statements, in order; nil when the schema failed.
	Statements []StatementResult `json:"statements"`
	// Err is the schema's failure (a *TargetError); its transaction was rolled back.
	Err error `json:"-"`
}

// Query runs sqlText (one or more statements, in the simple query protocol) in each target, as Exec
// does: each in a transaction of its own with the target's search path, at most parallel at a time.
// Unlike Exec it returns what each statement returned: its command tag and its rows, in text
// format, kept in memory. The results follow targets' order; the error joins one *TargetError per
// failure, as ForEach's. db must be a pool on the pgx driver or on the pgschemas driver.
func (e *Engine) Query(ctx context.Context, targets []Target, sqlText string, parallel int) ([]QueryResult, error) {
	out := make([]QueryResult, len(targets))
	index := make(map[string]int, len(targets))
	for i, t := range targets {
		out[i].Target = t
		index[t.Schema] = i
	}
	err := e.ForEach(ctx, targets, parallel, func(ctx context.Context, t Target) error {
		res, err := e.queryOne(ctx, t.Schema, sqlText)
		if err == nil {
			out[index[t.Schema]].Statements = res
		}
		return err
	})
	for _, te := range joined(err) {
		var target *TargetError
		if errors.As(te, &target) {
			out[index[target.Schema]].Err = te
		}
	}
	return out, err
}

// joined returns the errors that err joins: none for nil, err itself when it joins none.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// queryOne runs sqlText in schema, in a transaction with the schema's search path, and reads every
// result.
func (e *Engine) queryOne(ctx context.Context, schema, sqlText string) ([]StatementResult, error) {
	c, err := e.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []StatementResult
	err = rawPgx(ctx, c, func(conn *pgx.Conn) error {
		pg := conn.PgConn()
		own := pg.TxStatus() == 'I' // else the driver's pooler mode opened one for us
		// COMMIT and ROLLBACK run to their end whatever ctx does, as beginTx's (tx.go).
		done := context.WithoutCancel(ctx)
		if own {
			if _, err := pg.Exec(ctx, "BEGIN").ReadAll(); err != nil {
				return err
			}
		}
		rollback := func(err error) error {
			if own {
				_, rerr := pg.Exec(done, "ROLLBACK").ReadAll()
				return errors.Join(err, rerr)
			}
			return err
		}
		if err := pg.ExecParams(ctx, "SELECT pg_catalog.set_config('search_path', $1, true)",
			[][]byte{[]byte(e.searchPath(schema))}, nil, nil, nil).Read().Err; err != nil {
			return rollback(fmt.Errorf("schemaset: set search_path: %w", err))
		}
		results, err := pg.Exec(ctx, sqlText).ReadAll()
		if err != nil {
			return rollback(err)
		}
		for _, r := range results {
			sr := StatementResult{Command: r.CommandTag.String()}
			if r.FieldDescriptions != nil {
				sr.Columns = make([]string, len(r.FieldDescriptions))
				for i, f := range r.FieldDescriptions {
					sr.Columns[i] = f.Name
				}
				sr.Rows = make([][]*string, len(r.Rows))
				for i, row := range r.Rows {
					sr.Rows[i] = make([]*string, len(row))
					for j, v := range row {
						if v != nil {
							s := string(v)
							sr.Rows[i][j] = &s
						}
					}
				}
			}
			out = append(out, sr)
		}
		if own {
			if _, err := pg.Exec(done, "COMMIT").ReadAll(); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// rawPgx runs fn with the *pgx.Conn behind c, on the pgx driver or on the pgschemas driver
// (driver.RawConn, which may run fn in a transaction of its own).
func rawPgx(ctx context.Context, c *sql.Conn, fn func(*pgx.Conn) error) error {
	errOther := errors.New("not a pgx connection")
	err := c.Raw(func(dc any) error {
		if sc, ok := dc.(*stdlib.Conn); ok {
			return fn(sc.Conn())
		}
		return errOther
	})
	if errors.Is(err, errOther) {
		return driver.RawConn(ctx, c, fn)
	}
	return err
}
