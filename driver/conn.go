package driver

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

// conn wraps one pgx stdlib connection, whose network connection stamps every statement with the
// tenant that conn names before each operation (internal/stamp). database/sql uses a conn from one
// goroutine at a time.
type conn struct {
	std *stdlib.Conn
	pgx *pgx.Conn
	st  *stamp.Conn
	cn  *Connector

	// txSchema is the schema that the open BeginTx transaction is bound to, when inTx is true.
	txSchema string
	inTx     bool
}

var (
	_ sqldriver.Conn               = (*conn)(nil)
	_ sqldriver.ConnPrepareContext = (*conn)(nil)
	_ sqldriver.ConnBeginTx        = (*conn)(nil)
	_ sqldriver.ExecerContext      = (*conn)(nil)
	_ sqldriver.QueryerContext     = (*conn)(nil)
	_ sqldriver.Pinger             = (*conn)(nil)
	_ sqldriver.SessionResetter    = (*conn)(nil)
	_ sqldriver.Validator          = (*conn)(nil)
	_ sqldriver.NamedValueChecker  = (*conn)(nil)
)

// opSchema returns the schema of an operation run with ctx. Inside a transaction it is the
// transaction's; a context that names another one fails with ErrSchemaMismatch. Outside one, a
// context without a schema fails with ErrNoTenant when the Connector requires a tenant.
func (c *conn) opSchema(ctx context.Context) (string, error) {
	schema, err := schemaOf(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case c.inTx && schema != "" && schema != c.txSchema:
		return "", &SchemaError{Schema: schema, Err: fmt.Errorf("%w %q", ErrSchemaMismatch, c.txSchema)}
	case c.inTx:
		return c.txSchema, nil
	case schema == "" && c.cn.requireTenant:
		return "", &SchemaError{Err: ErrNoTenant}
	}
	return schema, nil
}

// enter makes the statements that an operation run with ctx sends carry its schema's stamp, and
// returns the schema. It sends nothing.
func (c *conn) enter(ctx context.Context) (string, error) {
	schema, err := c.opSchema(ctx)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err // nothing sent: the caller gets its context's error and the connection stays
	}
	c.st.SetTenant(c.cn.stamps.set(schema))
	return schema, nil
}

// leave explains the error of an operation in schema (see stamps.explain).
func (c *conn) leave(schema string, err *error) {
	if *err != nil {
		*err = c.cn.stamps.explain(schema, c.st, *err)
	}
}

// sqlFor returns the SQL to send for query in schema. pgx caches prepared statements and result
// descriptions by SQL text, and a statement planned in one schema must not be reused in another
// whose table has another shape: the server would fail with "cached plan must not change result
// type", or a cached description would decode the wrong type. So when pgx would cache, a tenant's
// SQL carries its schema in a leading comment, which gives each schema its own cache entries.
func (c *conn) sqlFor(schema, query string, args []sqldriver.NamedValue, exec bool) string {
	if schema == "" {
		return query
	}
	mode := c.cn.mode
	if len(args) > 0 {
		if m, ok := args[0].Value.(pgx.QueryExecMode); ok {
			mode = m
		}
	} else if exec {
		return query // pgx runs an Exec without arguments with the simple protocol, uncached
	}
	if mode != pgx.QueryExecModeCacheStatement && mode != pgx.QueryExecModeCacheDescribe {
		return query
	}
	return "/* pgschemas:" + schema + " */ " + query
}

// ErrConnLost is returned when the connection fails after an Exec or Query was sent: the server may
// or may not have run it, so the driver does not let database/sql run it again elsewhere.
var ErrConnLost = errors.New("pgschemas: the connection failed after the statement was sent; it may have run")

// notRetried keeps database/sql from running an operation again that may have run. pgx reports some
// failures that come after a statement was sent as safe to retry (a MultiResultReader whose read
// fails answers the next read with "conn closed"), pgx stdlib turns those into driver.ErrBadConn,
// and database/sql then runs the operation again on another connection: an INSERT could run twice.
// So when the connection was open as the operation began and is closed at its end, ErrBadConn
// becomes ErrConnLost. A failure before anything was sent becomes it too: it is then reported
// rather than retried, which costs a retry but is never wrong.
func (c *conn) notRetried(wasOpen bool, err *error) {
	if wasOpen && errors.Is(*err, sqldriver.ErrBadConn) && c.pgx.IsClosed() {
		*err = ErrConnLost
	}
}

func (c *conn) ExecContext(ctx context.Context, query string, args []sqldriver.NamedValue) (_ sqldriver.Result, err error) {
	defer c.notRetried(!c.pgx.IsClosed(), &err)
	schema, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(schema, &err)
	if isStandalone(ctx) {
		return c.execStandalone(ctx, schema, query, args)
	}
	return c.std.ExecContext(ctx, c.sqlFor(schema, query, args, true), args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []sqldriver.NamedValue) (_ sqldriver.Rows, err error) {
	defer c.notRetried(!c.pgx.IsClosed(), &err)
	schema, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(schema, &err)
	// stdlib always adds an argument (the result formats), so pgx keeps the configured mode; it
	// reads the first row before it returns, so the stamp's error is known here.
	return c.std.QueryContext(ctx, c.sqlFor(schema, query, args, false), args)
}

// PrepareContext checks query in ctx's schema with an unnamed server-side prepare. The returned
// statement prepares nothing that outlives it: each execution goes through pgx's statement cache
// in the schema of the execution's own context, so one *sql.Stmt serves every tenant.
func (c *conn) PrepareContext(ctx context.Context, query string) (_ sqldriver.Stmt, err error) {
	schema, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(schema, &err)
	sd, err := c.pgx.Prepare(ctx, "", query)
	if err != nil {
		return nil, connErr(err)
	}
	return &stmt{c: c, query: query, numInput: len(sd.ParamOIDs)}, nil
}

// connErr is err, or driver.ErrBadConn when nothing reached the server, as pgx stdlib returns.
func connErr(err error) error {
	if err != nil && pgconn.SafeToRetry(err) {
		return sqldriver.ErrBadConn
	}
	return err
}

func (c *conn) Prepare(query string) (sqldriver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// BeginTx binds the transaction to ctx's schema: its BEGIN, and each of its statements, carry the
// schema's stamp.
func (c *conn) BeginTx(ctx context.Context, opts sqldriver.TxOptions) (_ sqldriver.Tx, err error) {
	schema, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(schema, &err)
	t, err := c.std.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx, c.txSchema = true, schema
	return &tx{c: c, tx: t}, nil
}

func (c *conn) Begin() (sqldriver.Tx, error) {
	return c.BeginTx(context.Background(), sqldriver.TxOptions{Isolation: sqldriver.IsolationLevel(sql.LevelDefault)})
}

// Ping runs in ctx's schema, so that a ping proves the tenant's schema exists.
func (c *conn) Ping(ctx context.Context) (err error) {
	schema, err := c.enter(ctx)
	if err != nil {
		return err
	}
	defer c.leave(schema, &err)
	if err := c.pgx.Ping(ctx); err != nil {
		if set := c.cn.stamps.explain(schema, c.st, err); set != err {
			return set
		}
		return sqldriver.ErrBadConn // as pgx stdlib's Ping: database/sql discards the connection
	}
	return nil
}

// ResetSession discards a connection that served MaxTenantsPerConn schemas, or that is in doubt
// (pgx stdlib's: closed, or left inside a transaction). pgx stdlib pings a connection idle for a
// second, in the schema of its last operation: when that schema was dropped since, the ping
// fails, and the connection is discarded.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.cn.stamps.retire(c.st) {
		return sqldriver.ErrBadConn
	}
	return c.std.ResetSession(ctx)
}

// IsValid is false for a connection that is closed, or that served MaxTenantsPerConn schemas:
// database/sql then closes it rather than put it back in the pool.
func (c *conn) IsValid() bool { return !c.pgx.IsClosed() && !c.cn.stamps.retire(c.st) }

func (c *conn) CheckNamedValue(nv *sqldriver.NamedValue) error { return c.std.CheckNamedValue(nv) }

func (c *conn) Close() error { return c.std.Close() }

// tx ends the conn's binding to a schema with the transaction.
type tx struct {
	c  *conn
	tx sqldriver.Tx
}

func (t *tx) Commit() error {
	t.c.inTx = false
	return t.tx.Commit()
}

func (t *tx) Rollback() error {
	t.c.inTx = false
	return t.tx.Rollback()
}

// stmt is a prepared statement that runs in the schema of each execution's context.
type stmt struct {
	c        *conn
	query    string
	numInput int
}

var (
	_ sqldriver.StmtExecContext  = (*stmt)(nil)
	_ sqldriver.StmtQueryContext = (*stmt)(nil)
)

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return s.numInput }

func (s *stmt) ExecContext(ctx context.Context, args []sqldriver.NamedValue) (sqldriver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []sqldriver.NamedValue) (sqldriver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

var errNoContext = errors.New("pgschemas: Stmt.Exec and Stmt.Query without a context are not supported; database/sql uses the Context variants")

func (s *stmt) Exec([]sqldriver.Value) (sqldriver.Result, error) { return nil, errNoContext }
func (s *stmt) Query([]sqldriver.Value) (sqldriver.Rows, error)  { return nil, errNoContext }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// RawConn runs fn with the *pgx.Conn behind c, for pgx calls that database/sql lacks (CopyFrom,
// SendBatch, ...), in ctx's schema: every statement fn sends carries the schema's stamp, as the
// driver's own do. It first checks that the schema exists, in a round trip of its own, so that a
// missing schema fails with ErrSchemaNotFound before fn runs. Inside fn, prefer schema-qualified
// names or QueryExecModeExec for SQL that tenants share with different table shapes: fn's
// statements use pgx's caches unmodified, and PostgreSQL plans a cached statement again when the
// path changed, failing with "cached plan must not change result type" when its result did.
func RawConn(ctx context.Context, c *sql.Conn, fn func(*pgx.Conn) error) error {
	return c.Raw(func(dc any) (err error) {
		pc, ok := dc.(*conn)
		if !ok {
			return fmt.Errorf("pgschemas: RawConn: the connection is a %T, not a pgschemas connection", dc)
		}
		schema, err := pc.enter(ctx)
		if err != nil {
			return err
		}
		defer pc.leave(schema, &err)
		if err := pc.pgx.PgConn().Exec(ctx, "-- pgschemas: check the schema").Close(); err != nil {
			return err
		}
		return fn(pc.pgx)
	})
}
