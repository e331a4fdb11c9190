package driver_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// The attack suite (attack_*_test.go) runs each safety test of issue 14 over every way a statement
// reaches the server, as River runs one conformance suite over every driver: the database/sql
// driver in its default mode, in the pooler mode on a direct connection and behind PgBouncer in
// transaction pooling, in strict mode, and a pgxpool configured by ConfigurePool.

// An attackMode is one way a statement reaches the server.
type attackMode struct {
	name      string
	pool      bool // a pgxpool configured by driver.ConfigurePool, not database/sql
	pooler    bool // pgschemas_pooler=transaction
	pgbouncer bool // through the PgBouncer of pgtest.PgBouncer (transaction pooling)
	strict    bool // pgschemas_strict=on, as a login role of its own, with a role per tenant
}

var attackModes = []attackMode{
	{name: "default"},
	{name: "pooler", pooler: true},
	{name: "pooler_pgbouncer", pooler: true, pgbouncer: true},
	{name: "strict", strict: true},
	{name: "pgxpool", pool: true},
}

// eachAttackMode runs f as a subtest for each mode, named "mode=<name>".
func eachAttackMode(t *testing.T, f func(t *testing.T, m attackMode)) {
	for _, m := range attackModes {
		t.Run("mode="+m.name, func(t *testing.T) { f(t, m) })
	}
}

// attackEnv is a throwaway database of n tenants, reached in one mode.
type attackEnv struct {
	mode    attackMode
	admin   string   // the database, as the admin (outside the driver)
	app     string   // the DSN that the driver or the pool opens
	tenants []string // tenant schema names, unique in the cluster (strict mode's roles are the cluster's)
	login   string   // strict mode's login role
	// adminPool reaches the database as the admin, outside the driver, for checks; parallel
	// subtests share it.
	adminPool *pgxpool.Pool
}

// newAttackEnv makes a database for m, runs the admin SQL that setup returns for the tenants'
// names (made here), then, in strict mode, makes the login role and a role per tenant (after
// setup, so that the roles get the tables setup made).
func newAttackEnv(t testing.TB, m attackMode, n int, setup func(tenants []string) string) *attackEnv {
	t.Helper()
	e := &attackEnv{mode: m, admin: pgtest.NewDatabase(t)}
	for i := range n {
		e.tenants = append(e.tenants, uniqueName(fmt.Sprintf("t%d_", i)))
	}
	admin(t, e.admin, setup(e.tenants))
	p, err := pgxpool.New(context.Background(), e.admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e.adminPool = p
	e.app = e.admin
	switch {
	case m.strict:
		e.login = loginRole(t, e.admin)
		tenantRoles(t, e.admin, e.login, e.tenants...)
		e.app = pgtest.WithParams(e.admin, "user", e.login, driver.ParamStrict, "on")
	case m.pgbouncer:
		e.app = pgtest.WithParams(pgtest.PgBouncer(t, e.admin), driver.ParamPooler, string(driver.PoolTransaction))
	case m.pooler:
		e.app = pgtest.WithParams(e.admin, driver.ParamPooler, string(driver.PoolTransaction))
	}
	return e
}

// attackQ is what the suite runs SQL through: a pool, a held connection or a transaction, of
// database/sql or of pgx.
type attackQ interface {
	exec(ctx context.Context, query string, args ...any) error
	// texts returns the first column of every row, which must be text.
	texts(ctx context.Context, query string, args ...any) ([]string, error)
}

// attackClient is a pool of either kind.
type attackClient interface {
	attackQ
	// conn holds one connection of the pool until release is called.
	conn(ctx context.Context) (q attackQ, release func(), err error)
	// begin begins a transaction (BeginTx, pool.Begin) bound to ctx's schema.
	begin(ctx context.Context) (q attackQ, commit func() error, err error)
	close()
}

// open opens a pool of conns connections over dsn in e's mode (e.app, or another DSN to the same
// place, such as a counting proxy's), closed when t ends at the latest.
func (e *attackEnv) open(t testing.TB, dsn string, conns int) attackClient {
	t.Helper()
	if e.mode.pool {
		return pgxClient{openPool(t, dsn, false, func(cfg *pgxpool.Config) { cfg.MaxConns = int32(conns) })}
	}
	db := open(t, dsn)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return sqlClient{db: db, sqlQ: sqlQ{db}}
}

// sqlQ runs SQL through database/sql.
type sqlQ struct {
	q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}
}

func (s sqlQ) exec(ctx context.Context, query string, args ...any) error {
	_, err := s.q.ExecContext(ctx, query, args...)
	return err
}

func (s sqlQ) texts(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return out, err
		}
		out = append(out, v.String)
	}
	return out, rows.Err()
}

type sqlClient struct {
	sqlQ
	db *sql.DB
}

func (c sqlClient) conn(ctx context.Context) (attackQ, func(), error) {
	cn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	return sqlQ{cn}, func() { cn.Close() }, nil
}

func (c sqlClient) begin(ctx context.Context) (attackQ, func() error, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	return sqlQ{tx}, tx.Commit, nil
}

func (c sqlClient) close() { c.db.Close() }

// pgxQ runs SQL through pgx.
type pgxQ struct {
	q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}
}

func (p pgxQ) exec(ctx context.Context, query string, args ...any) error {
	_, err := p.q.Exec(ctx, query, args...)
	return err
}

func (p pgxQ) texts(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := p.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	vals, err := pgx.CollectRows(rows, pgx.RowTo[*string])
	out := make([]string, len(vals))
	for i, v := range vals {
		if v != nil {
			out[i] = *v
		}
	}
	return out, err
}

type pgxClient struct{ pool *pgxpool.Pool }

func (c pgxClient) exec(ctx context.Context, query string, args ...any) error {
	return pgxQ{c.pool}.exec(ctx, query, args...)
}

func (c pgxClient) texts(ctx context.Context, query string, args ...any) ([]string, error) {
	return pgxQ{c.pool}.texts(ctx, query, args...)
}

func (c pgxClient) conn(ctx context.Context) (attackQ, func(), error) {
	cn, err := c.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return pgxQ{cn}, cn.Release, nil
}

func (c pgxClient) begin(ctx context.Context) (attackQ, func() error, error) {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	return pgxQ{tx}, func() error { return tx.Commit(context.Background()) }, nil
}

func (c pgxClient) close() { c.pool.Close() }
