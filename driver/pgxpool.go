package driver

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolOptions configures ConfigurePool. The zero value is usable: no extra search paths.
type PoolOptions struct {
	// ExtraSearchPaths are schemas appended after public to every search path, for shared
	// extensions, after those of the DSN's pgschemas_extra_search_paths parameter. Each must be a
	// valid schema name other than public, and a schema may be listed once only.
	ExtraSearchPaths []string
}

// ConfigurePool makes a pgxpool.Pool built from cfg run every operation in the schema of its
// context (WithSchema), as the database/sql driver does, for services that use pgx directly:
//
//	cfg, err := pgxpool.ParseConfig(dsn)
//	err = driver.ConfigurePool(cfg, driver.PoolOptions{})
//	pool, err := pgxpool.NewWithConfig(ctx, cfg)
//	rows, err := pool.Query(driver.WithSchema(ctx, "acme"), "SELECT id, title FROM notes") // acme.notes
//
// Call it once, on a config from pgxpool.ParseConfig, before pgxpool.NewWithConfig and after
// setting cfg.ConnConfig.Tracer, cfg.PrepareConn or cfg.BeforeAcquire, which it keeps. It returns
// an error, and changes nothing, when cfg is nil or has no ConnConfig, when cfg was configured
// already, or when the options or the DSN's pgschemas_ parameters are invalid.
//
// # The contract
//
// Every acquisition of a connection runs cfg.PrepareConn with the acquiring context, so the path is
// set for that context's schema ("<schema>", public, <extra search paths>; without a schema,
// public, <extra search paths>) before anything runs on the connection. That covers Pool.Query,
// QueryRow, Exec, SendBatch, CopyFrom, Ping, Begin and BeginTx, and Acquire, AcquireFunc and
// AcquireAllIdle. What runs on the acquired connection (a *pgxpool.Conn, a pgx.Tx, a batch)
// runs in the schema of the acquiring context; the contexts of its own statements are not read, so
// a transaction is bound to the schema of Begin's context. (pgx has no hook per statement: there
// is no counterpart of the driver's ErrSchemaMismatch.)
//
// It costs no round trip while a connection stays with one tenant. When it changes tenant, one
// simple-protocol Query both sets the path and checks that the schema exists, as in the driver.
// The outcomes of an acquisition, from PrepareConn:
//   - an invalid schema name in the context: the operation fails with a *SchemaError wrapping
//     ErrInvalidSchemaName. Nothing is sent, and the connection goes back to the pool;
//   - a schema that does not exist: a *SchemaError wrapping ErrSchemaNotFound. Nothing ran in
//     public; the connection goes back to the pool;
//   - a set that fails otherwise (a timeout, a lock, a lost connection): the connection is
//     destroyed and the operation fails with a *SchemaError wrapping the cause, or, when nothing
//     reached the server over a connection that is gone, the pool retries on another connection;
//   - then the PrepareConn (or BeforeAcquire) that cfg had, if any, runs in the tenant's path.
//
// A connection goes back to the pool with its tenant's path, so that the next acquisition for
// that tenant costs nothing, and it is set again before any other tenant, or a context without a
// schema, uses it. SQL that may change the path (text that names search_path, RESET ALL, DISCARD
// ALL), run through Query, QueryRow, Exec or a batch, makes the next acquisition set it again:
// ConfigurePool adds a tracer to cfg.ConnConfig.Tracer, next to the one it had, to see that SQL.
// SQL sent on the *pgconn.PgConn directly, or run by the name of a statement prepared with such
// SQL, is not seen.
//
// # Statement caches
//
// pgx caches statements and result descriptions by SQL text (QueryExecModeCacheStatement, the
// default, and QueryExecModeCacheDescribe), and a statement planned or described in one tenant's
// path must not serve another tenant whose table has another shape. The database/sql driver gives
// each schema its own cache entries by tagging the SQL; a pool cannot, because the SQL of
// pool.Query reaches pgx unchanged. So when cfg's caches are on (StatementCacheCapacity or
// DescriptionCacheCapacity above zero) and the connection prepared anything since it last changed
// tenant (a statement or description cached, a batch, a Conn.Prepare), the statement that sets the
// path on a change of tenant also runs DEALLOCATE ALL, and pgx's caches are emptied in the same
// step, with no further round trip: no plan or description passes from one tenant to another, and
// a connection that stays with a tenant keeps its cache. A change of tenant then costs, besides
// the set, one prepare per statement that the connection runs again. For many tenants over few
// connections, prefer default_query_exec_mode=exec: it prepares nothing, so a change of tenant
// costs the set alone, and each statement one round trip. Statements prepared by name on a
// connection (Conn.Prepare, for example in AfterConnect) are deallocated with the rest while the
// caches are on; with both capacities zero they are kept, and PostgreSQL plans them again in each
// tenant's path.
//
// # Limits
//
// The path is set for the session, as in the driver's session mode: ConfigurePool is for direct
// connections and poolers in session mode. Behind a pooler in transaction mode it leaks; use the
// database/sql driver's pooler mode there (pgschemas_pooler=transaction, which ConfigurePool
// refuses). As in session mode, the existence check runs when the path is set: a schema dropped
// while idle connections still have its path resolves names in public until they change tenant,
// so stop routing a tenant before dropping it. search_path isolation is not a security boundary:
// SQL that names another schema reads it. Strict mode, which makes it one, is for the database/sql
// driver only: ConfigurePool refuses pgschemas_strict=on, since pgx has no hook per statement. For work outside requests, see [Tenant], [WithSchemaOf]
// and [github.com/pgschemas/pgschemas/schemaset.Engine.ForEach].
func ConfigurePool(cfg *pgxpool.Config, opts PoolOptions) error {
	if cfg == nil || cfg.ConnConfig == nil {
		return errors.New("pgschemas: ConfigurePool: the config has no ConnConfig: make it with pgxpool.ParseConfig")
	}
	if isPathTracer(cfg.ConnConfig.Tracer) {
		return errors.New("pgschemas: ConfigurePool: the config is configured already")
	}
	ours, err := poolParams(cfg.ConnConfig)
	if err != nil {
		return err
	}
	if ours.Pooler == PoolTransaction {
		return fmt.Errorf("pgschemas: ConfigurePool: %s=%s is not supported: a pool sets a session's search path, "+
			"which leaks behind a pooler in transaction mode; use the database/sql driver there", ParamPooler, PoolTransaction)
	}
	if ours.Strict {
		return fmt.Errorf("pgschemas: ConfigurePool: %s is not supported: strict mode sets the role with every statement, "+
			"which pgx has no hook for; use the database/sql driver", ParamStrict)
	}
	extra := append(append([]string(nil), ours.ExtraSearchPaths...), opts.ExtraSearchPaths...)
	tail, err := Config{ExtraSearchPaths: extra}.check()
	if err != nil {
		return err
	}
	cc := cfg.ConnConfig
	p := &poolPaths{
		tail:  tail,
		reset: cc.StatementCacheCapacity > 0 || cc.DescriptionCacheCapacity > 0,
		next:  cfg.PrepareConn,
	}
	if p.next == nil && cfg.BeforeAcquire != nil { // deprecated, but kept: pgxpool ignores it once PrepareConn is set
		before := cfg.BeforeAcquire
		p.next = func(ctx context.Context, c *pgx.Conn) (bool, error) { return before(ctx, c), nil }
	}
	for key := range cc.RuntimeParams {
		if isOurParam(key) {
			delete(cc.RuntimeParams, key) // read above; the server must not see them
		}
	}
	cfg.PrepareConn = p.prepare
	if cc.Tracer == nil {
		cc.Tracer = pathTracer{}
	} else {
		cc.Tracer = multitracer.New(pathTracer{}, cc.Tracer)
	}
	return nil
}

// poolParams returns what the pgschemas_ parameters among cc's run-time parameters say, read the
// way ParseConfig reads them, from the connection string cc was parsed from.
func poolParams(cc *pgx.ConnConfig) (Config, error) {
	for key := range cc.RuntimeParams {
		if isOurParam(key) {
			return ParseConfig(cc.ConnString())
		}
	}
	return Config{}, nil
}

// poolPaths is the PrepareConn of a configured pool.
type poolPaths struct {
	tail  string                                         // the search path after the tenant: `public, "ext"`
	reset bool                                           // pgx's caches are on: a change of tenant empties them
	next  func(context.Context, *pgx.Conn) (bool, error) // the config's own PrepareConn, or nil
}

// poolPathKey is the key, in a connection's pgconn CustomData, of its *poolPath.
const poolPathKey = "pgschemas.searchPath"

// poolPath is the search path a pooled connection is known to have: that of schema cur ("" for
// none) when known is true; and whether anything was prepared on it, in a statement or a
// description cache or by name, since it last changed tenant. Only the goroutine that holds the
// connection reads or writes it.
type poolPath struct {
	cur      string
	known    bool
	prepared bool
}

// pathOf returns c's poolPath, made unknown the first time.
func pathOf(c *pgx.Conn) *poolPath {
	data := c.PgConn().CustomData()
	st, ok := data[poolPathKey].(*poolPath)
	if !ok {
		st = &poolPath{}
		data[poolPathKey] = st
	}
	return st
}

// prepare is the pool's PrepareConn: see ConfigurePool for its outcomes.
func (p *poolPaths) prepare(ctx context.Context, c *pgx.Conn) (bool, error) {
	schema, err := schemaOf(ctx)
	if err != nil {
		return true, err // nothing sent; the connection goes back as it was
	}
	if st := pathOf(c); !st.known || st.cur != schema {
		if ok, err := p.setPath(ctx, c, st, schema); !ok || err != nil {
			return ok, err
		}
	}
	if p.next != nil {
		return p.next(ctx, c)
	}
	return true, nil
}

// doneCtx is a context that has ended: pgconn sends nothing with it.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// setPath sets c's search path for schema in one round trip, with DEALLOCATE ALL and pgx's caches
// emptied when the caches are on and c prepared anything since the last time, and returns what
// prepare returns.
func (p *poolPaths) setPath(ctx context.Context, c *pgx.Conn, st *poolPath, schema string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return true, err // nothing sent: the caller gets its context's error and the connection stays
	}
	st.known = false // until the server says otherwise, the path is in doubt
	nsp := schema
	if schema == "" {
		nsp = "public"
	}
	// setPathSQL with literals: the simple protocol takes several statements in one Query message,
	// and runs them in one implicit transaction.
	query := withLiterals(setPathSQL, joinPath(schema, p.tail), nsp)
	reset := p.reset && st.prepared
	if reset {
		query += "; DEALLOCATE ALL"
	}
	results, err := c.PgConn().Exec(ctx, query).ReadAll()
	if err != nil {
		err = &SchemaError{Schema: schema, Err: fmt.Errorf("set search_path: %w", err)}
		switch {
		case !pgconn.SafeToRetry(err):
			return false, err // the server may have run part of it: the connection is destroyed
		case c.IsClosed() && ctx.Err() == nil:
			return false, nil // nothing reached the server, and the connection is gone: the pool retries
		default:
			return !c.IsClosed(), err
		}
	}
	if reset {
		// DeallocateAll empties pgx's caches and its map of named statements, then would send
		// "deallocate all"; with a context that has ended, pgconn sends nothing. The server
		// deallocated everything above.
		if err := c.DeallocateAll(doneCtx); err != nil && !errors.Is(err, context.Canceled) {
			return false, &SchemaError{Schema: schema, Err: fmt.Errorf("empty the statement cache: %w", err)}
		}
		st.prepared = false
	}
	if len(results) == 0 || results[0].CommandTag.RowsAffected() == 0 {
		return true, &SchemaError{Schema: schema, Err: ErrSchemaNotFound}
	}
	st.cur, st.known = schema, true
	return true, nil
}

// pathTracer makes a connection's path unknown when it runs SQL that may change it, and notes
// that something was prepared on it: by Prepare (which pgx's statement and description caches
// call), or by a batch, which may prepare for the caches without calling Prepare.
type pathTracer struct{}

var (
	_ pgx.QueryTracer   = pathTracer{}
	_ pgx.BatchTracer   = pathTracer{}
	_ pgx.PrepareTracer = pathTracer{}
)

// isPathTracer reports whether t is, or combines, a pathTracer: the config was configured.
func isPathTracer(t pgx.QueryTracer) bool {
	if mt, ok := t.(*multitracer.Tracer); ok {
		for _, q := range mt.QueryTracers {
			if isPathTracer(q) {
				return true
			}
		}
	}
	_, ok := t.(pathTracer)
	return ok
}

func (pathTracer) check(c *pgx.Conn, sql string) {
	if mayChangePath(sql) {
		pathOf(c).known = false
	}
}

func (t pathTracer) TraceQueryStart(ctx context.Context, c *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	t.check(c, data.SQL)
	return ctx
}

func (pathTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t pathTracer) TraceBatchStart(ctx context.Context, c *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	pathOf(c).prepared = true
	if data.Batch != nil {
		for _, q := range data.Batch.QueuedQueries {
			t.check(c, q.SQL)
		}
	}
	return ctx
}

func (pathTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (pathTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (pathTracer) TracePrepareStart(ctx context.Context, c *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	pathOf(c).prepared = true
	return ctx
}

func (pathTracer) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}
