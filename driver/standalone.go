package driver

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// standaloneKey is the context key of Standalone.
type standaloneKey struct{}

// Standalone returns a copy of ctx for an ExecContext of a statement that PostgreSQL refuses
// inside a transaction block or a pipeline: VACUUM, CREATE INDEX CONCURRENTLY, REINDEX
// CONCURRENTLY, CREATE DATABASE, ALTER SYSTEM and the like. Every other statement is sent in the
// same transaction as its tenant's set, where these fail ("cannot run inside a transaction
// block"). With Standalone, the operation takes two round trips: the first sets the session's own
// path (and, in strict mode, role) for ctx's schema and checks that the schema exists; the second
// sends the statement alone, as it is:
//
//	_, err := db.ExecContext(driver.Standalone(driver.WithSchema(ctx, "acme")), "VACUUM notes")
//
// The session keeps that path and role afterwards; no later statement relies on them, since each
// carries its own. Standalone fails with ErrStandalone inside a transaction, and in pooler mode,
// where the two round trips may reach two server sessions: run such maintenance over a direct
// connection (a Connector without pooler mode). QueryContext, PrepareContext and BeginTx ignore it.
func Standalone(ctx context.Context) context.Context {
	return context.WithValue(ctx, standaloneKey{}, true)
}

func isStandalone(ctx context.Context) bool {
	b, _ := ctx.Value(standaloneKey{}).(bool)
	return b
}

// ErrStandalone: a Standalone operation inside a transaction, or in pooler mode. Nothing was sent.
var ErrStandalone = errors.New("a standalone statement needs a session of its own, outside a transaction and without a transaction pooler")

// sessionSetSQL sets the session's own path, role and checks the schema, for a Standalone statement.
const sessionSetSQL = "SELECT pg_catalog.set_config('search_path', $1, false), $2::pg_catalog.regnamespace, " +
	"CASE WHEN $3 <> '' THEN pg_catalog.set_config('role', $3, false) END"

func (c *conn) execStandalone(ctx context.Context, schema, query string, args []sqldriver.NamedValue) (sqldriver.Result, error) {
	if c.inTx || c.cn.pooled {
		return nil, &SchemaError{Schema: schema, Err: ErrStandalone}
	}
	set := c.cn.stamps.set(schema)
	c.st.Suspend(true)
	defer c.st.Suspend(false)
	if _, err := c.pgx.Exec(ctx, sessionSetSQL, pgx.QueryExecModeExec, set.Path(), set.Schema(), set.Role()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return nil, c.cn.stamps.setFailed(schema, pgErr)
		}
		return nil, connErr(err)
	}
	return c.std.ExecContext(ctx, query, args)
}
