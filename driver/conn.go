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
)

// setPathSQL sets the session's search path and proves, in the same statement, that the tenant's
// schema exists: PostgreSQL skips a missing schema in search_path in silence, and names would then
// resolve in public. Zero rows means the schema is missing and nothing was set.
const setPathSQL = "SELECT pg_catalog.set_config('search_path', $1, false) FROM pg_catalog.pg_namespace WHERE nspname = $2"

// conn wraps one pgx stdlib connection. database/sql uses a conn from one goroutine at a time.
type conn struct {
	std *stdlib.Conn
	pgx *pgx.Conn
	cn  *Connector

	// cur is the tenant schema ("" for none) whose search path the session is known to have, when
	// known is true. A path set inside a server transaction is never remembered: ROLLBACK, or
	// ROLLBACK TO SAVEPOINT, can undo it without the driver seeing.
	cur   string
	known bool

	// txSchema is the schema that the open BeginTx transaction is bound to, when inTx is true.
	txSchema string
	inTx     bool

	// set is the statement that the pooler mode sent last to set the path (pooler.go), kept for the
	// next statement of the same tenant.
	set *setLocalStmt
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
// transaction's; a context that names another one fails with ErrSchemaMismatch.
func (c *conn) opSchema(ctx context.Context) (string, error) {
	schema, err := schemaOf(ctx)
	if err != nil {
		return "", err
	}
	if c.inTx {
		if schema != "" && schema != c.txSchema {
			return "", &SchemaError{Schema: schema, Err: fmt.Errorf("%w %q", ErrSchemaMismatch, c.txSchema)}
		}
		schema = c.txSchema
	}
	return schema, nil
}

// enter makes the session's search path right for an operation run with ctx, and returns the
// operation's schema (see opSchema). It sends nothing when the path is already right.
func (c *conn) enter(ctx context.Context) (string, error) {
	schema, err := c.opSchema(ctx)
	if err != nil {
		return "", err
	}
	if c.known && c.cur == schema {
		return schema, nil
	}
	return schema, c.setPath(ctx, schema)
}

// setPath sets the search path for schema in one round trip.
func (c *conn) setPath(ctx context.Context, schema string) error {
	if err := ctx.Err(); err != nil {
		return err // nothing sent: the caller gets its context's error and the connection stays
	}
	c.known = false // until the server says otherwise, the path is in doubt
	nsp := schema
	if schema == "" {
		nsp = "public"
	}
	// QueryExecModeExec sends Parse, Bind and Execute in one round trip in every configured mode.
	tag, err := c.pgx.Exec(ctx, setPathSQL, pgx.QueryExecModeExec, c.cn.searchPath(schema), nsp)
	if err != nil {
		if pgconn.SafeToRetry(err) {
			return sqldriver.ErrBadConn // nothing reached the server: database/sql may retry elsewhere
		}
		return &SchemaError{Schema: schema, Err: fmt.Errorf("set search_path: %w", err)}
	}
	if tag.RowsAffected() == 0 {
		return &SchemaError{Schema: schema, Err: ErrSchemaNotFound}
	}
	if c.pgx.PgConn().TxStatus() == 'I' {
		c.cur, c.known = schema, true
	}
	return nil
}

// leave runs after a statement: SQL that may have changed the search path puts it in doubt.
func (c *conn) leave(query string) {
	if c.known && mayChangePath(query) {
		c.known = false
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
	if c.cn.pooled {
		return c.pooledExec(ctx, query, args)
	}
	schema, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(query)
	return c.std.ExecContext(ctx, c.sqlFor(schema, query, args, true), args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []sqldriver.NamedValue) (_ sqldriver.Rows, err error) {
	defer c.notRetried(!c.pgx.IsClosed(), &err)
	if c.cn.pooled {
		return c.pooledQuery(ctx, query, args)
	}
	schema, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(query)
	// stdlib always adds an argument (the result formats), so pgx keeps the configured mode.
	return c.std.QueryContext(ctx, c.sqlFor(schema, query, args, false), args)
}

// PrepareContext checks query in ctx's schema with an unnamed server-side prepare. The returned
// statement prepares nothing that outlives it: each execution goes through pgx's statement cache
// in the schema of the execution's own context, so one *sql.Stmt serves every tenant.
func (c *conn) PrepareContext(ctx context.Context, query string) (sqldriver.Stmt, error) {
	if c.cn.pooled {
		return c.pooledPrepare(ctx, query)
	}
	if _, err := c.enter(ctx); err != nil {
		return nil, err
	}
	sd, err := c.pgx.Prepare(ctx, "", query)
	if err != nil {
		if pgconn.SafeToRetry(err) {
			return nil, sqldriver.ErrBadConn
		}
		return nil, err
	}
	return &stmt{c: c, query: query, numInput: len(sd.ParamOIDs)}, nil
}

func (c *conn) Prepare(query string) (sqldriver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// BeginTx binds the transaction to ctx's schema. In session mode the path is set before BEGIN,
// outside the transaction, so that a rollback cannot undo it; in pooler mode, see pooledBegin.
func (c *conn) BeginTx(ctx context.Context, opts sqldriver.TxOptions) (sqldriver.Tx, error) {
	if c.cn.pooled {
		return c.pooledBegin(ctx, opts)
	}
	schema, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
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

// Ping sets ctx's schema, so that a ping proves the tenant's schema exists, then pings.
func (c *conn) Ping(ctx context.Context) error {
	if c.cn.pooled {
		return c.pooledPing(ctx)
	}
	if _, err := c.enter(ctx); err != nil {
		return err
	}
	return c.std.Ping(ctx)
}

// ResetSession keeps the known search path: the next operation sets its own schema anyway, and
// skipping a reset saves a round trip. pgx stdlib discards a connection left inside a transaction.
func (c *conn) ResetSession(ctx context.Context) error { return c.std.ResetSession(ctx) }

func (c *conn) IsValid() bool { return !c.pgx.IsClosed() }

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

// mayChangePath reports whether query may change the session's search path: it names search_path
// (SET, RESET, set_config) or resets everything (RESET ALL, DISCARD ALL). Case is ignored.
func mayChangePath(query string) bool {
	for i := 0; i < len(query); i++ {
		switch query[i] | 0x20 { // ASCII lower case
		case 's':
			if hasPrefixFold(query[i:], "search_path") {
				return true
			}
		case 'r':
			if hasPrefixFold(query[i:], "reset all") {
				return true
			}
		case 'd':
			if hasPrefixFold(query[i:], "discard all") {
				return true
			}
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// RawConn runs fn with the *pgx.Conn behind c, for pgx calls that database/sql lacks (CopyFrom,
// SendBatch, ...). It first sets the search path for ctx's schema, so unqualified names in fn land in
// that schema. Since fn may change the session, the driver sets the path again before c's next
// operation. Inside fn, prefer schema-qualified names or QueryExecModeExec for SQL that tenants
// share with different table shapes: fn's statements use pgx's caches unmodified.
//
// In pooler mode, fn runs in a transaction that begins with the path, in the same round trip, and
// that RawConn commits when fn returns nil and rolls back otherwise; fn must not end it. When c is
// already in a transaction, fn runs in it, after the path is set for it.
func RawConn(ctx context.Context, c *sql.Conn, fn func(*pgx.Conn) error) error {
	return c.Raw(func(dc any) error {
		pc, ok := dc.(*conn)
		if !ok {
			return fmt.Errorf("pgschemas: RawConn: the connection is a %T, not a pgschemas connection", dc)
		}
		if pc.cn.pooled {
			return pc.pooledRaw(ctx, fn)
		}
		if _, err := pc.enter(ctx); err != nil {
			return err
		}
		defer func() { pc.known = false }()
		return fn(pc.pgx)
	})
}
