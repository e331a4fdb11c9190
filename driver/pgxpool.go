package driver

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

// PoolOptions configures ConfigurePool. The zero value is usable: no extra search paths, a tenant
// not required, DefaultMaxTenantsPerConn.
type PoolOptions struct {
	// ExtraSearchPaths are schemas appended after public to every search path, for shared
	// extensions, after those of the DSN's pgschemas_extra_search_paths parameter. Each must be a
	// valid schema name other than public, and a schema may be listed once only.
	ExtraSearchPaths []string
	// RequireTenant: as Config.RequireTenant. It or the DSN's pgschemas_require_tenant=on turns
	// it on.
	RequireTenant bool
	// MaxTenantsPerConn: as Config.MaxTenantsPerConn; 0 leaves the DSN's
	// pgschemas_max_tenants_per_conn, or the default.
	MaxTenantsPerConn int
	// MaxStatementCopies: as Config.MaxStatementCopies; 0 leaves the DSN's
	// pgschemas_max_statement_copies, or the default.
	MaxStatementCopies int
}

// ConfigurePool makes a pgxpool.Pool built from cfg run every statement in the schema of the
// context that acquired its connection (WithSchema), as the database/sql driver does, for services
// that use pgx directly:
//
//	cfg, err := pgxpool.ParseConfig(dsn)
//	err = driver.ConfigurePool(cfg, driver.PoolOptions{})
//	pool, err := pgxpool.NewWithConfig(ctx, cfg)
//	rows, err := pool.Query(driver.WithSchema(ctx, "acme"), "SELECT id, title FROM notes") // acme.notes
//
// Call it once, on a config from pgxpool.ParseConfig, before pgxpool.NewWithConfig and after
// setting cfg.ConnConfig's AfterNetConnect, AfterConnect and DialFunc, and cfg.PrepareConn or
// BeforeAcquire, which it keeps and calls. It returns an error, and changes
// nothing, when cfg is nil or has no ConnConfig, when cfg was configured already, or when the
// options or the DSN's pgschemas_ parameters are invalid. The DSN's pgschemas_pooler and
// pgschemas_strict work as in the database/sql driver.
//
// # The contract
//
// The connections stamp every statement with a tenant, as the database/sql driver's do (see the
// package documentation): its path and existence check (and in strict mode its role) go in the
// same flush and the same transaction as the statement, whatever exec mode, in batches, pipelines,
// CopyFrom and transactions alike, and nothing relies on the session's search path. The tenant is
// that of the context of the acquisition: Pool.Query, QueryRow, Exec, SendBatch, CopyFrom, Ping,
// Begin and BeginTx acquire with their own context, and Acquire, AcquireFunc and AcquireAllIdle
// with theirs; what runs on the acquired connection (a *pgxpool.Conn, a pgx.Tx, a batch) runs in
// that schema, and the contexts of its own statements are not read. (pgx has no hook per
// statement: there is no counterpart of the driver's ErrSchemaMismatch.)
//
// An acquisition sends nothing, but the first time a connection serves a schema: it then checks,
// in a round trip, that the schema exists, so that a missing schema fails the acquisition with a
// *SchemaError. The outcomes of an acquisition, from PrepareConn:
//   - an invalid schema name in the context: a *SchemaError wrapping ErrInvalidSchemaName; with
//     RequireTenant, a context without a schema: ErrNoTenant. Nothing is sent, and the connection
//     goes back to the pool;
//   - a schema that does not exist: a *SchemaError wrapping ErrSchemaNotFound. Nothing ran; the
//     connection goes back to the pool;
//   - a check that fails otherwise (a timeout, a lost connection): the connection is destroyed and
//     the operation fails with the cause, or, when nothing reached the server over a connection
//     that is gone, the pool retries on another connection;
//   - then the PrepareConn (or BeforeAcquire) that cfg had, if any, runs in the tenant's schema.
//
// A schema dropped after a connection checked it fails each statement with the server's error,
// a *pgconn.PgError with SQLSTATE 3F000 (`schema "acme" does not exist`), and the statement does
// not run. A connection that has served MaxTenantsPerConn schemas is destroyed at its next
// acquisition (PrepareConn returns false, and the pool acquires another), so that its backend's
// catalog cache stays bounded.
//
// # Statement caches
//
// pgx caches statements and result descriptions by SQL text, and the SQL of pool.Query reaches it
// unchanged: one cached statement serves every tenant of a connection. PostgreSQL plans a prepared
// statement again whenever the search path differs from the one it was planned in, so each runs
// in its own tenant's tables; when the result's shape differs between two tenants, the server
// fails the statement with "cached plan must not change result type" (SQLSTATE 0A000), and pgx
// prepares it again for the next call. So that a connection switching tenants does not plan its
// statements at nearly every call, a tenant that runs a statement of another's a second time gets
// its own copy of it on the server (Config.MaxStatementCopies), which pgx does not see: the
// tenant's calls run the copy, planned once in its path. A description cached by QueryExecModeCacheDescribe would
// decode another tenant's rows without that check, so ConfigurePool turns the description cache
// off: use the statement cache (the default), exec or simple_protocol. A statement of pgx's
// cache that SQL deallocated (DEALLOCATE) is prepared again, in the same flush, before its next use.
func ConfigurePool(cfg *pgxpool.Config, opts PoolOptions) error {
	if cfg == nil || cfg.ConnConfig == nil {
		return errors.New("pgschemas: ConfigurePool: the config has no ConnConfig: make it with pgxpool.ParseConfig")
	}
	cc := cfg.ConnConfig
	if isPoolMarker(cc.Tracer) {
		return errors.New("pgschemas: ConfigurePool: the config is configured already")
	}
	ours, err := poolParams(cc)
	if err != nil {
		return err
	}
	ours.ExtraSearchPaths = append(ours.ExtraSearchPaths, opts.ExtraSearchPaths...)
	ours.RequireTenant = ours.RequireTenant || opts.RequireTenant
	if opts.MaxTenantsPerConn != 0 {
		ours.MaxTenantsPerConn = opts.MaxTenantsPerConn
	}
	if opts.MaxStatementCopies != 0 {
		ours.MaxStatementCopies = opts.MaxStatementCopies
	}
	tail, err := ours.check()
	if err != nil {
		return err
	}
	for key := range cc.RuntimeParams {
		if isOurParam(key) {
			delete(cc.RuntimeParams, key) // read above; the server must not see them
		}
	}
	pooled := ours.Pooler == PoolTransaction
	if pooled {
		if cc.DefaultQueryExecMode != pgx.QueryExecModeSimpleProtocol {
			cc.DefaultQueryExecMode = pgx.QueryExecModeExec
		}
		cc.StatementCacheCapacity = 0
	}
	cc.DescriptionCacheCapacity = 0
	if cc.DefaultQueryExecMode == pgx.QueryExecModeCacheDescribe {
		cc.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	}
	p := &poolStamps{
		stamps:        newStamps(tail, ours.stampOptions(pooled), ours.maxTenants()),
		requireTenant: ours.RequireTenant,
		next:          cfg.PrepareConn,
	}
	if p.next == nil && cfg.BeforeAcquire != nil { // deprecated, but kept: pgxpool ignores it once PrepareConn is set
		before := cfg.BeforeAcquire
		p.next = func(ctx context.Context, c *pgx.Conn) (bool, error) { return before(ctx, c), nil }
	}
	p.stamps.configure(cc)
	if cc.Tracer == nil {
		cc.Tracer = poolMarker{}
	} else {
		cc.Tracer = multitracer.New(poolMarker{}, cc.Tracer)
	}
	cfg.PrepareConn = p.prepare
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

// poolStamps is the PrepareConn and AfterRelease of a configured pool.
type poolStamps struct {
	stamps        *stamps
	requireTenant bool
	next          func(context.Context, *pgx.Conn) (bool, error) // the config's own PrepareConn, or nil
}

// prepare is the pool's PrepareConn: see ConfigurePool for its outcomes.
func (p *poolStamps) prepare(ctx context.Context, c *pgx.Conn) (bool, error) {
	schema, err := schemaOf(ctx)
	switch {
	case err != nil:
		return true, err // nothing sent; the connection goes back as it was
	case schema == "" && p.requireTenant:
		return true, &SchemaError{Err: ErrNoTenant}
	}
	sc := stampOf(c.PgConn())
	if p.stamps.retire(sc) {
		return false, nil // served MaxTenantsPerConn schemas: the pool destroys it and acquires another
	}
	set := p.stamps.set(schema)
	first := !sc.HasServed(set.Schema())
	sc.SetTenant(set)
	if first {
		if ok, err := p.check(ctx, c, sc, schema, set); !ok || err != nil {
			return ok, err
		}
	}
	if p.next != nil {
		return p.next(ctx, c)
	}
	return true, nil
}

// check proves, in a round trip, that schema exists, and returns what prepare returns.
func (p *poolStamps) check(ctx context.Context, c *pgx.Conn, sc *stamp.Conn, schema string, set *stamp.Set) (bool, error) {
	if err := ctx.Err(); err != nil {
		sc.Forget(set)
		return true, err // nothing sent: the caller gets its context's error and the connection stays
	}
	err := c.PgConn().Exec(ctx, "-- pgschemas: check the schema").Close()
	if err == nil {
		return true, nil
	}
	sc.Forget(set) // check again next time
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && sc.TakeSetError() != nil:
		return true, p.stamps.setFailed(schema, pgErr)
	case !pgconn.SafeToRetry(err):
		return false, &SchemaError{Schema: schema, Err: fmt.Errorf("check the schema: %w", err)} // the connection is destroyed
	case c.IsClosed() && ctx.Err() == nil:
		return false, nil // nothing reached the server, and the connection is gone: the pool retries
	default:
		return !c.IsClosed(), err
	}
}

// poolMarker is a tracer that does nothing: its presence in a config says that ConfigurePool
// configured it.
type poolMarker struct{}

func (poolMarker) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (poolMarker) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// isPoolMarker reports whether t is, or combines, a poolMarker.
func isPoolMarker(t pgx.QueryTracer) bool {
	if mt, ok := t.(*multitracer.Tracer); ok {
		for _, q := range mt.QueryTracers {
			if isPoolMarker(q) {
				return true
			}
		}
	}
	_, ok := t.(poolMarker)
	return ok
}
