package driver_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// openPool returns a pgxpool over dsn, closed when t ends: configured by driver.ConfigurePool
// unless plain. edit, when not nil, changes the config first. No pool pings its connections on
// acquire, so that the wire counts hold only the operations.
func openPool(t testing.TB, dsn string, plain bool, edit func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	if edit != nil {
		edit(cfg)
	}
	if !plain {
		if err := driver.ConfigurePool(cfg, driver.PoolOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// oneConn makes a pool of one connection, so that each operation follows another tenant's.
func oneConn(cfg *pgxpool.Config) { cfg.MaxConns = 1 }

// pgxQuerier is what *pgxpool.Pool, *pgxpool.Conn, *pgx.Conn and pgx.Tx share.
type pgxQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// poolOwner reads items.owner through q with ctx: the name of the schema the statement resolved in.
func poolOwner(t *testing.T, q pgxQuerier, ctx context.Context) string {
	t.Helper()
	var got string
	if err := q.QueryRow(ctx, "SELECT owner FROM items").Scan(&got); err != nil {
		t.Fatalf("SELECT owner FROM items: %v", err)
	}
	return got
}

// ctxOf returns a context for schema, "" or "public" for none.
func ctxOf(schema string) context.Context {
	if schema == "" || schema == "public" {
		return none
	}
	return in(schema)
}

func TestPoolEveryOperationRunsInTheContextSchema(t *testing.T) {
	dsn := tenantDB(t, "a", "Acme")
	admin(t, dsn, "CREATE SCHEMA ext")
	pool := openPool(t, pgtest.WithParams(dsn, driver.ParamExtraSearchPaths, "ext"), false, oneConn)
	order := []string{"a", "Acme", "public", "a", "public", "Acme"}

	t.Run("query, query row and search path", func(t *testing.T) {
		for _, s := range order {
			var path string
			if err := pool.QueryRow(ctxOf(s), "SHOW search_path").Scan(&path); err != nil {
				t.Fatal(err)
			}
			want := `public, "ext", pg_temp`
			if s != "public" {
				want = fmt.Sprintf(`"%s", public, "ext", pg_temp`, s)
			}
			rows, err := pool.Query(ctxOf(s), "SELECT owner FROM items")
			if err != nil {
				t.Fatal(err)
			}
			owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil || len(owners) != 1 || owners[0] != s || path != want {
				t.Errorf("%s: owners %q (%v), path %q; want [%s] and %s", s, owners, err, path, s, want)
			}
		}
	})

	t.Run("exec, batch and copy", func(t *testing.T) {
		for _, s := range order[:3] {
			ctx := ctxOf(s)
			if _, err := pool.Exec(ctx, "INSERT INTO items VALUES ($1)", "exec-"+s); err != nil {
				t.Fatal(err)
			}
			b := &pgx.Batch{}
			b.Queue("INSERT INTO items VALUES ($1)", "batch-"+s)
			if err := pool.SendBatch(ctx, b).Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"owner"}, pgx.CopyFromRows([][]any{{"copy-" + s}})); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range order[:3] {
			var n int
			q := fmt.Sprintf(`SELECT count(*) FROM %q.items WHERE owner IN ('exec-' || $1, 'batch-' || $1, 'copy-' || $1)`, s)
			if err := pool.QueryRow(none, q, s).Scan(&n); err != nil || n != 3 {
				t.Errorf("%s: %d rows written there (%v), want 3", s, n, err)
			}
			if _, err := pool.Exec(none, fmt.Sprintf(`DELETE FROM %q.items WHERE owner <> $1`, s), s); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("transaction is bound to Begin's schema", func(t *testing.T) {
		for _, s := range order[:3] {
			tx, err := pool.Begin(ctxOf(s))
			if err != nil {
				t.Fatal(err)
			}
			for _, other := range []context.Context{none, in("a"), in("Acme")} {
				if got := poolOwner(t, tx, other); got != s {
					t.Errorf("in a transaction begun for %s: read %s's rows", s, got)
				}
			}
			if err := tx.Rollback(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("acquired connection is bound to Acquire's schema", func(t *testing.T) {
		for _, s := range order[:3] {
			err := pool.AcquireFunc(ctxOf(s), func(c *pgxpool.Conn) error {
				if got := poolOwner(t, c, in("a")); got != s {
					t.Errorf("a connection acquired for %s read %s's rows", s, got)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		c, err := pool.Acquire(in("Acme"))
		if err != nil {
			t.Fatal(err)
		}
		c.Release()
		conns := pool.AcquireAllIdle(in("a"))
		if len(conns) != 1 || poolOwner(t, conns[0], none) != "a" {
			t.Errorf("AcquireAllIdle for a: %d connections, want 1 in a", len(conns))
		}
		for _, c := range conns {
			c.Release()
		}
	})

	t.Run("ping", func(t *testing.T) {
		if err := pool.Ping(in("Acme")); err != nil {
			t.Errorf("ping Acme: %v", err)
		}
		if err := pool.Ping(in("missing")); !errors.Is(err, driver.ErrSchemaNotFound) {
			t.Errorf("ping of a missing schema: %v, want ErrSchemaNotFound", err)
		}
	})
}

// TestPoolSchemaErrors: an invalid name fails before anything is sent, and a missing schema fails
// without running anything in public; the connection stays in the pool either way.
func TestPoolSchemaErrors(t *testing.T) {
	dsn := tenantDB(t, "a")
	proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	pool := openPool(t, proxy.DSN(dsn), false, oneConn)
	if got := poolOwner(t, pool, in("a")); got != "a" {
		t.Fatalf("setup: read %s", got)
	}
	insert := func(ctx context.Context) error {
		_, err := pool.Exec(ctx, "INSERT INTO items VALUES ('should not be written')")
		return err
	}

	proxy.Reset()
	for _, name := range []string{"", "x; DROP TABLE items", "public", "pg_catalog", strings.Repeat("x", 64)} {
		err := insert(in(name))
		var se *driver.SchemaError
		if !errors.Is(err, driver.ErrInvalidSchemaName) || !errors.As(err, &se) || se.Schema != name {
			t.Errorf("schema %q: %v, want a *SchemaError naming it, wrapping ErrInvalidSchemaName", name, err)
		}
	}
	if n := len(proxy.Statements()); n != 0 {
		t.Errorf("invalid names sent %d statements: %q", n, proxy.Statements())
	}

	err := insert(in("missing"))
	var se *driver.SchemaError
	if !errors.Is(err, driver.ErrSchemaNotFound) || !errors.As(err, &se) || se.Schema != "missing" {
		t.Errorf("missing schema: %v, want a *SchemaError naming it, wrapping ErrSchemaNotFound", err)
	}
	var n int
	if err := pool.QueryRow(none, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1 {
		t.Errorf("public.items has %d rows (%v), want its seed only", n, err)
	}
	if got := poolOwner(t, pool, in("a")); got != "a" {
		t.Errorf("after the errors, a read for a saw %s's rows", got)
	}
	if s := pool.Stat(); s.NewConnsCount() != 1 {
		t.Errorf("%d connections opened, want the same 1", s.NewConnsCount())
	}
}

// TestPoolSeesSQLThatChangesThePath runs SQL that changes the search path on a pooled connection,
// through each way pgx runs SQL, and checks that the next acquisition sets the path again.
func TestPoolSeesSQLThatChangesThePath(t *testing.T) {
	pool := openPool(t, tenantDB(t, "a", "b"), false, oneConn)
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"exec SET", func(ctx context.Context) error { _, err := pool.Exec(ctx, "SET search_path TO b"); return err }},
		{"exec RESET ALL", func(ctx context.Context) error { _, err := pool.Exec(ctx, "RESET ALL"); return err }},
		{"query set_config", func(ctx context.Context) error {
			var s string
			return pool.QueryRow(ctx, "SELECT set_config('search_path', $1, false)", "b").Scan(&s)
		}},
		{"batch DEALLOCATE ALL", func(ctx context.Context) error {
			b := &pgx.Batch{}
			b.Queue("DEALLOCATE ALL")
			return pool.SendBatch(ctx, b).Close()
		}},
		{"exec DISCARD ALL, refused in the stamp's transaction", func(ctx context.Context) error {
			_, err := pool.Exec(ctx, "DISCARD ALL")
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "25001" {
				return fmt.Errorf("DISCARD ALL: %v, want SQLSTATE 25001 (cannot run inside a transaction block)", err)
			}
			return nil
		}},
		{"SET LOCAL then commit", func(ctx context.Context) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "SET LOCAL search_path TO b")
				return err
			})
		}},
	} {
		if err := tc.run(in("a")); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := poolOwner(t, pool, in("a")); got != "a" {
			t.Errorf("after %s on a connection of a, a read for a saw %s's rows", tc.name, got)
		}
	}
}

// TestPoolStatementCachesNeverCrossSchemas alternates one SQL text between schemas whose items.v
// differ in type, on one connection, in every exec mode, through every way the pool runs SQL; and
// through batches alone, which fill pgx's caches without calling Prepare. One cached statement
// serves every tenant of a connection, and PostgreSQL plans it again in each tenant's path: a
// call never reads another tenant's value, nor decodes one with another's type. Where the result's
// type changed since the statement was planned, the server refuses it (SQLSTATE 0A000, "cached
// plan must not change result type") before it runs; where a parameter's type changed, the
// server refuses the argument (22P02), or pgx cannot encode it. pgx drops the statement from its
// cache after any error, and the same call again gets the right value. (The database/sql driver
// gives each tenant its own cache entries, and never fails so: see TestStatementCachesNeverCrossSchemas.)
func TestPoolStatementCachesNeverCrossSchemas(t *testing.T) {
	dsn := newDatabase(t)
	admin(t, dsn, `
		CREATE SCHEMA s_int;  CREATE TABLE s_int.items(v int);   INSERT INTO s_int.items VALUES (42);
		CREATE SCHEMA s_text; CREATE TABLE s_text.items(v text); INSERT INTO s_text.items VALUES ('forty-two');
		CREATE TABLE public.items(v bool); INSERT INTO public.items VALUES (true);`)
	want := map[string]any{"s_int": int32(42), "s_text": "forty-two", "public": true}
	for _, mode := range execModes {
		t.Run(mode, func(t *testing.T) {
			pool := openPool(t, pgtest.WithParams(dsn, "default_query_exec_mode", mode), false, oneConn)
			batches := openPool(t, pgtest.WithParams(dsn, "default_query_exec_mode", mode), false, oneConn)
			for i := range 6 {
				for _, s := range []string{"s_int", "s_text", "public"} {
					ctx := ctxOf(s)
					var got any
					check := func(how string, _ any, err error, again func() error) {
						t.Helper()
						if err != nil && (mode == "cache_statement" || mode == "cache_describe") && got == nil {
							err = again() // the first call after a change of shape fails, with nothing read
						}
						if err != nil || got != want[s] {
							t.Fatalf("round %d, schema %s, %s: got %v (%T), err %v; want %v (%T)", i, s, how, got, got, err, want[s], want[s])
						}
					}
					batch := func(pool *pgxpool.Pool) error {
						b := &pgx.Batch{}
						b.Queue("SELECT v FROM items").QueryRow(func(row pgx.Row) error { return row.Scan(&got) })
						return pool.SendBatch(ctx, b).Close()
					}
					for _, op := range []struct {
						how string
						run func() error
					}{
						{"batches alone", func() error { return batch(batches) }},
						{"query", func() error { return pool.QueryRow(ctx, "SELECT v FROM items").Scan(&got) }},
						{"query with argument", func() error { return pool.QueryRow(ctx, "SELECT v FROM items WHERE v = $1", want[s]).Scan(&got) }},
						{"batch", func() error { return batch(pool) }},
						{"in a transaction", func() error {
							return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tx.QueryRow(none, "SELECT v FROM items").Scan(&got) })
						}},
					} {
						got = nil
						check(op.how, got, op.run(), op.run)
					}
				}
			}
		})
	}
}

// TestPoolRoundTripsCountedOnTheWire proves, from the messages the server received, that a
// configured pool costs no round trip, whether its connection stays with one tenant or changes
// tenant with every acquisition, once it has checked each schema, against a plain pgxpool doing
// the same work.
func TestPoolRoundTripsCountedOnTheWire(t *testing.T) {
	dsn := tenantDB(t, "a", "b")
	proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	const n = 20
	for _, mode := range execModes {
		t.Run(mode, func(t *testing.T) {
			through := pgtest.WithParams(proxy.DSN(dsn), "default_query_exec_mode", mode)
			plain := openPool(t, pgtest.WithParams(through, "search_path", "a"), true, oneConn)
			pool := openPool(t, through, false, oneConn)
			ops := func(p *pgxpool.Pool, ctx context.Context) {
				var s string
				if err := p.QueryRow(ctx, "SELECT owner FROM items WHERE owner <> $1", "x").Scan(&s); err != nil {
					t.Fatal(err)
				}
				if _, err := p.Exec(ctx, "UPDATE items SET owner = owner WHERE owner = $1", "x"); err != nil {
					t.Fatal(err)
				}
			}
			for _, ctx := range []context.Context{in("b"), none, in("a")} { // connect both, and warm their caches
				ops(plain, none)
				ops(pool, ctx)
			}

			proxy.Reset()
			for range n {
				ops(plain, none)
			}
			base, _ := roundTrips(proxy)

			proxy.Reset()
			for range n {
				ops(pool, in("a"))
			}
			if trips, _ := roundTrips(proxy); trips != base {
				t.Errorf("one tenant: %d round trips for %d operations; plain pgxpool: %d", trips, 2*n, base)
			}

			proxy.Reset()
			for i := range n {
				ops(pool, in([]string{"b", "a"}[i%2]))
			}
			if trips, _ := roundTrips(proxy); trips != base {
				t.Errorf("alternating tenants: %d round trips for %d operations; plain pgxpool: %d", trips, 2*n, base)
			}
		})
	}
}

// TestPoolFailedSetKeepsTheConnection makes the set fail half-way, by locking the catalog it
// reads: the statement after it does not run, and since the set was local to the transaction that
// failed, nothing is left in doubt: the connection stays, and serves every tenant right. A context
// that ended before the set sends nothing and keeps the connection too.
func TestPoolFailedSetKeepsTheConnection(t *testing.T) {
	dsn := tenantDB(t, "a", "b")
	ctx := context.Background()
	pool := openPool(t, pgtest.WithParams(dsn, "statement_timeout", "200"), false, oneConn)
	if got := poolOwner(t, pool, in("a")); got != "a" {
		t.Fatalf("setup: read %s", got)
	}

	ended, cancel := context.WithCancel(in("b"))
	cancel()
	if _, err := pool.Exec(ended, "INSERT INTO items VALUES ('after an ended context')"); !errors.Is(err, context.Canceled) {
		t.Errorf("an ended context: %v, want context.Canceled", err)
	}

	locker, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	if _, err := locker.Exec(ctx, "BEGIN; LOCK TABLE pg_catalog.pg_namespace IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(in("b"), "INSERT INTO items VALUES ('after a failed set')")
	if _, err := locker.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	var se *driver.SchemaError
	var pgErr *pgconn.PgError
	if !errors.As(err, &se) || se.Schema != "b" || !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("set under a locked catalog: %v, want a *SchemaError for b with SQLSTATE 57014", err)
	}
	if got := poolOwner(t, pool, in("b")); got != "b" {
		t.Errorf("after the failed set, a read for b saw %s's rows", got)
	}
	if got := poolOwner(t, pool, in("a")); got != "a" {
		t.Errorf("after the failed set, a read for a saw %s's rows", got)
	}
	var n int
	err = pool.QueryRow(none, "SELECT (SELECT count(*) FROM a.items) + (SELECT count(*) FROM b.items) + (SELECT count(*) FROM public.items)").Scan(&n)
	if err != nil || n != 3 {
		t.Errorf("%d rows in a, b and public (%v), want their 3 seeds: a statement after a failed set ran", n, err)
	}
	if s := pool.Stat(); s.NewConnsCount() != 1 {
		t.Errorf("%d connections opened, want 1: kept after the ended context and after the failed set", s.NewConnsCount())
	}
}

func TestConfigurePool(t *testing.T) {
	dsn := tenantDB(t, "a")
	admin(t, dsn, "CREATE SCHEMA ext1; CREATE SCHEMA ext2")
	parse := func(t *testing.T, dsn string) *pgxpool.Config {
		t.Helper()
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	t.Run("refuses what it cannot configure", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			cfg  func() *pgxpool.Config
			opts driver.PoolOptions
			says string
		}{
			{"nil", func() *pgxpool.Config { return nil }, driver.PoolOptions{}, "no ConnConfig"},
			{"zero", func() *pgxpool.Config { return &pgxpool.Config{} }, driver.PoolOptions{}, "no ConnConfig"},
			{"unknown parameter", func() *pgxpool.Config { return parse(t, pgtest.WithParams(dsn, "pgschemas_typo", "1")) },
				driver.PoolOptions{}, "unknown DSN parameter"},
			{"invalid extra path", func() *pgxpool.Config { return parse(t, dsn) },
				driver.PoolOptions{ExtraSearchPaths: []string{"public"}}, "invalid schema name"},
			{"extra path twice", func() *pgxpool.Config { return parse(t, pgtest.WithParams(dsn, driver.ParamExtraSearchPaths, "ext1")) },
				driver.PoolOptions{ExtraSearchPaths: []string{"ext1"}}, "listed twice"},
			{"twice", func() *pgxpool.Config {
				cfg := parse(t, dsn)
				if err := driver.ConfigurePool(cfg, driver.PoolOptions{}); err != nil {
					t.Fatal(err)
				}
				return cfg
			}, driver.PoolOptions{}, "configured already"},
		} {
			if err := driver.ConfigurePool(tc.cfg(), tc.opts); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%s: %v, want an error that says %q", tc.name, err, tc.says)
			}
		}
	})

	t.Run("reads the DSN's parameters and keeps the config's hooks", func(t *testing.T) {
		cfg := parse(t, pgtest.WithParams(dsn, driver.ParamExtraSearchPaths, "ext1", driver.ParamPooler, "session"))
		cfg.MaxConns = 1
		var prepared []string
		cfg.PrepareConn = func(ctx context.Context, c *pgx.Conn) (bool, error) {
			var cur string
			err := c.QueryRow(ctx, "SELECT current_schema()").Scan(&cur)
			prepared = append(prepared, cur)
			return true, err
		}
		tracer := &countingTracer{}
		cfg.ConnConfig.Tracer = tracer
		if err := driver.ConfigurePool(cfg, driver.PoolOptions{ExtraSearchPaths: []string{"ext2"}}); err != nil {
			t.Fatal(err)
		}
		for key := range cfg.ConnConfig.RuntimeParams {
			if strings.HasPrefix(key, "pgschemas_") {
				t.Errorf("the server would receive %s", key)
			}
		}
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var path string
		if err := pool.QueryRow(in("a"), "SHOW search_path").Scan(&path); err != nil {
			t.Fatal(err)
		}
		if want := `"a", public, "ext1", "ext2", pg_temp`; path != want {
			t.Errorf("search path %s, want %s", path, want)
		}
		if got := poolOwner(t, pool, none); got != "public" {
			t.Errorf("without a schema, read %s's rows", got)
		}
		if want := []string{"a", "public"}; fmt.Sprint(prepared) != fmt.Sprint(want) {
			t.Errorf("the config's PrepareConn ran in %q, want %q: after the path is set", prepared, want)
		}
		if tracer.queries.Load() < 4 {
			t.Errorf("the config's tracer saw %d queries, want at least 4", tracer.queries.Load())
		}
	})
}

// countingTracer counts the queries it sees.
type countingTracer struct{ queries atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The kinds of operation of the pool's load.
const (
	plExec       = iota // pool.Exec insert
	plQuery             // pool.Query of every owner
	plQueryRow          // pool.QueryRow count
	plBatch             // pool.SendBatch: an insert and a count
	plTxCommit          // pool.Begin, a committed transaction that also trims the table
	plTxRollback        // pool.Begin, a rolled-back transaction
	plAcquire           // pool.Acquire, then statements with other tenants' contexts
	plCancel            // a query whose context ends before, during or after it
	plKinds
)

var plKindNames = [plKinds]string{"exec", "query", "queryrow", "batch", "tx-commit", "tx-rollback", "acquire", "cancel"}

// poolLoad is the state of TestPoolIsolationUnderLoad's goroutines.
type poolLoad struct {
	citus   bool // through a Citus coordinator (see currentSchemaOK)
	pool    *pgxpool.Pool
	targets []isoTarget
	rows    []atomic.Int64 // per target: rows committed minus rows deleted, besides the seed
	marker  atomic.Int64   // source of the unique negative v of rolled-back rows
	ops     [plKinds]atomic.Int64
	// cancelShare is the share of operations that are plCancel: a cancelled operation costs far
	// more than another (a connection replaced, or held 100 ms by pgx's cancel request).
	cancelShare float64

	leaks, unexpected, stray atomic.Int64
	mu                       sync.Mutex
	failures                 []string
}

// fail records err, when not nil, and reports whether it was not nil. A statement cancelled by
// the server (57014) is counted apart: a late cancel request of a cancelled query can hit the
// next statement of its connection (see isoLoad.fail).
func (l *poolLoad) fail(kind int, tg isoTarget, what string, err error) bool {
	if err == nil {
		return false
	}
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "57014" {
		l.stray.Add(1)
		return true
	}
	l.unexpected.Add(1)
	l.record("%s in %q: %s: %v", plKindNames[kind], tg.owner, what, err)
	return true
}

func (l *poolLoad) leak(kind int, tg isoTarget, saw string) {
	l.leaks.Add(1)
	l.record("LEAK: %s in %q saw %s", plKindNames[kind], tg.owner, saw)
}

func (l *poolLoad) record(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < isoMaxReported {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
}

// owners checks the result of a query of owners: no error, at least the seed, all of them tg's.
func (l *poolLoad) owners(kind int, tg isoTarget, what string, rows pgx.Rows, err error) bool {
	if l.fail(kind, tg, what, err) {
		return false
	}
	owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if l.fail(kind, tg, what, err) {
		return false
	}
	for _, o := range owners {
		if o != tg.owner {
			l.leak(kind, tg, fmt.Sprintf("a row of owner %q", o))
		}
	}
	if len(owners) == 0 {
		l.fail(kind, tg, what, errors.New("no rows: the seed row is missing"))
	}
	return true
}

// count checks a row of isoCountSQL: read in tg's schema, of tg's rows only.
func (l *poolLoad) count(kind int, tg isoTarget, what string, row pgx.Row) bool {
	var cur, lo, hi string
	var n int64
	if l.fail(kind, tg, what, row.Scan(&cur, &n, &lo, &hi)) {
		return false
	}
	if !currentSchemaOK(cur, tg.owner, l.citus) || lo != tg.owner || hi != tg.owner {
		l.leak(kind, tg, fmt.Sprintf("current_schema() %q, owners %q to %q", cur, lo, hi))
	}
	return true
}

func (l *poolLoad) wrote(kind int, tg isoTarget, what string, err error, n int64) {
	if !l.fail(kind, tg, what, err) {
		l.rows[tg.idx].Add(n)
	}
}

func (l *poolLoad) run(rng *rand.Rand) {
	bg := context.Background()
	tg := l.targets[rng.IntN(len(l.targets))]
	other := l.targets[rng.IntN(len(l.targets))]
	ctx := tg.ctx(bg)
	kind := rng.IntN(plCancel)
	if rng.Float64() < l.cancelShare {
		kind = plCancel
	}
	defer l.ops[kind].Add(1)

	switch kind {
	case plExec:
		_, err := l.pool.Exec(ctx, isoInsertSQL, tg.owner, rng.IntN(1000))
		l.wrote(kind, tg, "insert", err, 1)

	case plQuery:
		rows, err := l.pool.Query(ctx, isoOwnersSQL)
		l.owners(kind, tg, "select", rows, err)

	case plQueryRow:
		l.count(kind, tg, "count", l.pool.QueryRow(ctx, isoCountSQL))

	case plBatch:
		b := &pgx.Batch{}
		b.Queue(isoInsertSQL, tg.owner, rng.IntN(1000))
		b.Queue(isoCountSQL).QueryRow(func(row pgx.Row) error {
			l.count(kind, tg, "count in a batch", row)
			return nil
		})
		l.wrote(kind, tg, "batch", l.pool.SendBatch(ctx, b).Close(), 1)

	case plTxCommit:
		tx, err := l.pool.Begin(ctx)
		if l.fail(kind, tg, "begin", err) {
			return
		}
		defer tx.Rollback(bg)
		// The transaction runs in Begin's schema, whatever its statements' contexts say.
		_, err = tx.Exec(other.ctx(bg), isoInsertSQL, tg.owner, rng.IntN(1000))
		if l.fail(kind, tg, "insert with another context", err) {
			return
		}
		rows, err := tx.Query(bg, isoOwnersSQL)
		if !l.owners(kind, tg, "select", rows, err) {
			return
		}
		tag, err := tx.Exec(bg, isoTrimSQL, tg.owner, isoKeep)
		if l.fail(kind, tg, "trim", err) {
			return
		}
		l.wrote(kind, tg, "commit", tx.Commit(bg), 1-tag.RowsAffected())

	case plTxRollback:
		mark := -l.marker.Add(1)
		tx, err := l.pool.Begin(ctx)
		if l.fail(kind, tg, "begin", err) {
			return
		}
		_, err = tx.Exec(bg, isoInsertSQL, tg.owner, mark)
		if rerr := tx.Rollback(bg); l.fail(kind, tg, "insert", err) || l.fail(kind, tg, "rollback", rerr) {
			return
		}
		var n int
		err = l.pool.QueryRow(ctx, "SELECT count(*) FROM items WHERE v = $1", mark).Scan(&n)
		if !l.fail(kind, tg, "count after rollback", err) && n != 0 {
			l.fail(kind, tg, "count after rollback", fmt.Errorf("%d rolled-back rows with v = %d", n, mark))
		}

	case plAcquire:
		c, err := l.pool.Acquire(ctx)
		if l.fail(kind, tg, "acquire", err) {
			return
		}
		defer c.Release()
		_, err = c.Exec(other.ctx(bg), isoInsertSQL, tg.owner, rng.IntN(1000))
		l.wrote(kind, tg, "insert with another context", err, 1)
		l.count(kind, tg, "count with another context", c.QueryRow(other.ctx(bg), isoCountSQL))

	case plCancel:
		// The context ends after 0 to 25 ms: before anything is sent, while the path is set,
		// during the 20 ms query, or after it. Then the next operation of the pool checks its path.
		// Half the time the connection is acquired first, so that the time is not spent waiting
		// for the pool; otherwise the context may end while PrepareConn sets the path.
		var q interface {
			Query(context.Context, string, ...any) (pgx.Rows, error)
		} = l.pool
		if rng.IntN(2) == 0 {
			c, err := l.pool.Acquire(ctx)
			if l.fail(kind, tg, "acquire", err) {
				return
			}
			defer c.Release()
			q = c
		}
		cctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(25_000))*time.Microsecond)
		defer cancel()
		rows, err := q.Query(cctx, isoSleepSQL)
		if err == nil {
			var got []struct{ Owner, Sleep string }
			if got, err = pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Owner, Sleep string }]); err == nil {
				for _, o := range got {
					if o.Owner != tg.owner {
						l.leak(kind, tg, fmt.Sprintf("a row of owner %q", o.Owner))
					}
				}
			}
		}
		if err != nil && !isoCancelErr(err) {
			l.fail(kind, tg, "cancelled select", err)
		}
		if c, ok := q.(*pgxpool.Conn); ok {
			c.Release() // most likely the connection of the next count
		}
		l.count(kind, other, "count after a cancelled query", l.pool.QueryRow(other.ctx(bg), isoCountSQL))
	}
}

// TestPoolIsolationUnderLoad is TestIsolationUnderLoad for a configured pgxpool: 32 goroutines
// over a pool of 4 connections, each operation in a random target (eight tenants, or public) and
// of a random kind (Exec, Query, QueryRow, SendBatch, committed and rolled-back transactions,
// Acquire, cancelled queries). Half the connections cancel through the server, and so outlive a
// cancelled operation. No operation may see a row of another schema or write one there, and none
// may fail but those whose context ends. At the end, each table holds exactly the rows committed
// in it, all its own, none of them rolled back.
func TestPoolIsolationUnderLoad(t *testing.T) { testPoolIsolationUnderLoad(t) }

func testPoolIsolationUnderLoad(t *testing.T) {
	dsn := newDatabase(t)
	l := &poolLoad{citus: onCitus(t)}
	var setup strings.Builder
	for i, s := range append(append([]string(nil), isoTenants...), "public") {
		q := pgx.Identifier{s}.Sanitize()
		if s != "public" {
			fmt.Fprintf(&setup, "CREATE SCHEMA %s;\n", q)
			l.targets = append(l.targets, isoTarget{idx: i, schema: s, owner: s})
		} else {
			l.targets = append(l.targets, isoTarget{idx: i, owner: s})
		}
		fmt.Fprintf(&setup, "CREATE TABLE %[1]s.items (id bigserial PRIMARY KEY, owner text NOT NULL, v int);\n"+
			"INSERT INTO %[1]s.items (owner, v) VALUES ('%[2]s', 0);\n", q, s)
	}
	admin(t, dsn, setup.String())
	l.rows = make([]atomic.Int64, len(l.targets))
	var conns atomic.Int64
	l.pool = openPool(t, dsn, false, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 4
		cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
			if conns.Add(1)%2 == 0 {
				return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
			}
			return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
		}
	})

	total := int64(30_000)
	if l.citus {
		total /= 3 // each operation crosses to a worker
	}
	l.cancelShare = 0.003
	if raceEnabled || testing.Short() {
		total, l.cancelShare = total/20, 0.02
	}
	const workers = 32
	var next atomic.Int64
	start := time.Now()
	seed := uint64(start.UnixNano())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for next.Add(1) <= total && l.leaks.Load()+l.unexpected.Load() < 100 {
				l.run(rng)
			}
		})
	}
	wg.Wait()
	var done int64
	var counts []string
	for k := range plKinds {
		done += l.ops[k].Load()
		counts = append(counts, fmt.Sprintf("%s=%d", plKindNames[k], l.ops[k].Load()))
	}
	elapsed := time.Since(start)
	t.Logf("seed %d: %d operations by %d goroutines over 4 connections in %v (%.0f/s); %d connections opened",
		seed, done, workers, elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds(), conns.Load())
	t.Logf("per kind: %s", strings.Join(counts, " "))
	t.Logf("leaks: %d; unexpected errors: %d; statements cancelled by a late cancel request: %d",
		l.leaks.Load(), l.unexpected.Load(), l.stray.Load())

	for _, f := range l.failures {
		t.Error(f)
	}
	if l.leaks.Load() != 0 || l.unexpected.Load() != 0 {
		t.Errorf("%d leaks, %d unexpected errors", l.leaks.Load(), l.unexpected.Load())
	}
	if s, c := l.stray.Load(), l.ops[plCancel].Load(); s > c {
		t.Errorf("%d statements cancelled by the server, more than the %d cancelled queries could have caused", s, c)
	}
	if done < total && !t.Failed() {
		t.Errorf("only %d of %d operations ran", done, total)
	}
	for _, tg := range l.targets {
		var n, foreign, rolledBack int64
		err := l.pool.QueryRow(none, fmt.Sprintf(
			"SELECT count(*), count(*) FILTER (WHERE owner <> $1), count(*) FILTER (WHERE v < 0) FROM %s.items",
			pgx.Identifier{tg.owner}.Sanitize()), tg.owner).Scan(&n, &foreign, &rolledBack)
		if want := 1 + l.rows[tg.idx].Load(); err != nil || n != want || foreign != 0 || rolledBack != 0 {
			t.Errorf("%s.items: %d rows (%v), want %d; %d of another owner, %d rolled back", tg.owner, n, err, want, foreign, rolledBack)
		}
	}
}

// BenchmarkPgxpoolSelect and BenchmarkPgxpoolInsert compare a configured pgxpool with a plain
// one (case=pgxpool, connected with search_path=t0), on one connection, over the database and
// tenant sequences of BenchmarkSelect: one tenant, two alternating, 100 at random. The _exec
// cases run default_query_exec_mode=exec, which caches nothing, with a plain pool in that mode as
// their own baseline. Each case also reports the round trips per operation, counted through
// pgtest's wire proxy on benchProxyOps more operations after the timed loop.
func BenchmarkPgxpoolSelect(b *testing.B) { benchPgxpool(b, benchSelectSQL) }
func BenchmarkPgxpoolInsert(b *testing.B) { benchPgxpool(b, benchInsertSQL) }

func benchPgxpool(b *testing.B, query string) {
	base := benchDatabase(b)
	run := benchPoolOp(query)
	cases := benchCases(base) // stdlib, one_tenant, two_tenants, 100_tenants, stdlib_100_tables: their contexts
	exec := pgtest.WithParams(base, "default_query_exec_mode", "exec")
	type poolCase struct {
		name  string
		dsn   string
		plain bool
		of    *benchCase
	}
	for _, c := range benchRotate([]poolCase{
		{"case=pgxpool", pgtest.WithParams(base, "search_path", "t0"), true, cases[0]},
		{"case=one_tenant", base, false, cases[1]},
		{"case=two_tenants", base, false, cases[2]},
		{"case=100_tenants", base, false, cases[3]},
		{"case=100_tenants_no_copies", pgtest.WithParams(base, driver.ParamMaxStatementCopies, "-1"), false, cases[3]},
		{"case=pgxpool_100_tables", base, true, cases[4]},
		{"case=pgxpool_exec", pgtest.WithParams(exec, "search_path", "t0"), true, cases[0]},
		{"case=one_tenant_exec", exec, false, cases[1]},
		{"case=100_tenants_exec", exec, false, cases[3]},
	}) {
		b.Run(c.name, func(b *testing.B) {
			open := func(dsn string) *pgxpool.Pool { return benchPoolOpen(b, dsn, c.plain, c.of, run) }
			p := open(c.dsn)
			var pid int
			if err := p.QueryRow(c.of.ctx(0), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				b.Fatal(err)
			}
			server := benchServerCPU(b, pid)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := run(c.of.ctx(i), p, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			server()
			// b.Loop has stopped the timer: the same operations again, counted through a proxy.
			proxy := pgtest.StartProxy(b, pgtest.TargetAddr(b, c.dsn))
			p = open(proxy.DSN(c.dsn))
			proxy.Reset()
			for i := range benchProxyOps {
				if err := run(c.of.ctx(i), p, i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(proxy.Stats().RoundTrips())/benchProxyOps, "roundtrips/op")
		})
	}
}
