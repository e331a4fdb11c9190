package driver_test

// Benchmarks of the pgschemas driver against plain pgx stdlib (no tenancy), on one small SELECT
// by primary key and one small INSERT. Sub-benchmarks are named key=value (case=stdlib,
// case=one_tenant, ...) so that `benchstat -col /case` puts the cases side by side, with stdlib,
// the first column, as the baseline. bench/run.sh runs them and prints that table.
//
// BenchmarkPoolerSelect and BenchmarkPoolerInsert compare the pooler mode with plain pgx stdlib,
// their baseline: the pooler_ cases run in pgx's exec mode and parse the stamp with every
// statement, and pgbouncer_pooler_100_tenants does so through the PgBouncer of
// PGSCHEMAS_TEST_PGBOUNCER_DSN (left out without it). stdlib_exec is plain pgx stdlib in exec mode:
// a pooler in transaction mode keeps no prepared statement for its clients (PgBouncer before
// 1.21), so the pooler mode parses every statement, and stdlib_exec is the most it can reach;
// bench/run.sh also compares the pooler cases with it.
//
// Each case also reports how many times per operation the client waited for the server, counted
// through pgtest's wire proxy on extra operations run after the timed loop (the timed loop does
// not go through the proxy):
//
//	roundtrips/op       the first 200 operations of a new connection: first-sight prepares included
//	warm-roundtrips/op  200 operations once every tenant's statement is prepared: what the timed loop pays
//
// and the CPU time that the connection's server process spent per operation of the timed loop
// (server-ns/op, from /proc/PID/schedstat; not reported where the server runs elsewhere): the server's share
// of the work, which the noise of a shared machine moves far less than the wall-clock time.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/internal/tenantsql"
)

const (
	benchSelectSQL = `SELECT id, name, v FROM items WHERE id = $1`
	benchInsertSQL = `INSERT INTO items(name, v) VALUES ($1, $2)`

	benchTenants  = 100  // schemas t0..t99
	benchRows     = 100  // rows seeded in each items table; SELECT cycles over their ids
	benchSeqLen   = 4096 // length of the pre-generated tenant sequence; a power of two
	benchProxyOps = 200  // operations counted through the proxy, cold and warm each

	benchParallelConns = 4
)

// benchDB is what *sql.DB and *sql.Conn share, for the operations.
type benchDB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// benchOp is the operation a benchmark measures; run runs it once, i numbers it.
type benchOp struct {
	name string
	run  func(ctx context.Context, db benchDB, i int) error
}

var (
	benchSelect = benchOp{"select", benchSelectOnce}
	benchInsert = benchOp{"insert", benchInsertOnce}
)

func benchSelectOnce(ctx context.Context, db benchDB, i int) error {
	var (
		id   int64
		name string
		v    int32
	)
	return db.QueryRowContext(ctx, benchSQL(ctx, benchSelectSQL), int64(i%benchRows+1)).Scan(&id, &name, &v)
}

func benchInsertOnce(ctx context.Context, db benchDB, i int) error {
	_, err := db.ExecContext(ctx, benchSQL(ctx, benchInsertSQL), "bench", int64(i%1000))
	return err
}

// benchTableKey is the context key of the baselines over 100 tables (stdlib_100_tables,
// pgxpool_100_tables): plain pgx, with each statement naming its table's schema, as a service
// without pgschemas would reach 100 tenants' tables. The value is the tenant's number.
type benchTableKey struct{}

// benchQualified holds, for each statement and tenant n, the statement naming tn.items.
var benchQualified = func() map[string][]string {
	m := map[string][]string{}
	for _, q := range []string{benchSelectSQL, benchInsertSQL} {
		for n := range benchTenants {
			m[q] = append(m[q], strings.Replace(q, "items", fmt.Sprintf("t%d.items", n), 1))
		}
	}
	return m
}()

// benchSQL returns q, or q naming its table's schema in a context of a 100-table baseline.
func benchSQL(ctx context.Context, q string) string {
	if n, ok := ctx.Value(benchTableKey{}).(int); ok {
		return benchQualified[q][n]
	}
	return q
}

// benchCase is one column of the comparison: a driver, a DSN, and the contexts the operations
// run with, in a pre-generated order (ctxs[seq[i%benchSeqLen]] for operation i), so that every
// case pays the same cost to pick its context and no RNG runs in the timed loop.
type benchCase struct {
	name   string // sub-benchmark name, key=value
	driver string // database/sql driver name
	dsn    string
	ctxs   []context.Context
	seq    []uint8
}

func (c *benchCase) ctx(i int) context.Context { return c.ctxs[c.seq[i&(benchSeqLen-1)]] }

// benchCases returns the four cases over the database at dsn (seeded by benchDatabase). The
// baseline connects with search_path=t0 as a startup parameter, so it reads and writes the same
// table as one_tenant.
func benchCases(dsn string) []*benchCase {
	tenant := func(n int) context.Context { return driver.WithSchema(context.Background(), tenantsql.Schema(n)) }
	zeros := make([]uint8, benchSeqLen)
	alternate := make([]uint8, benchSeqLen)
	random := make([]uint8, benchSeqLen)
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: every run sees the same sequence
	all := make([]context.Context, benchTenants)
	tables := make([]context.Context, benchTenants)
	for i := range tables {
		tables[i] = context.WithValue(context.Background(), benchTableKey{}, i)
	}
	for i := range benchSeqLen {
		alternate[i] = uint8(i & 1)
		random[i] = uint8(rng.IntN(benchTenants))
	}
	for i := range all {
		all[i] = tenant(i)
	}
	return []*benchCase{
		{name: "case=stdlib", driver: "pgx", dsn: pgtest.WithParams(dsn, "search_path", "t0"),
			ctxs: []context.Context{context.Background()}, seq: zeros},
		{name: "case=one_tenant", driver: driver.DriverName, dsn: dsn,
			ctxs: []context.Context{tenant(0)}, seq: zeros},
		{name: "case=two_tenants", driver: driver.DriverName, dsn: dsn,
			ctxs: []context.Context{tenant(0), tenant(1)}, seq: alternate},
		{name: "case=100_tenants", driver: driver.DriverName, dsn: dsn,
			ctxs: all, seq: random},
		{name: "case=stdlib_100_tables", driver: "pgx", dsn: dsn, ctxs: tables, seq: random},
	}
}

// benchPoolerCases returns the cases of the pooler benchmarks over the database at dsn.
func benchPoolerCases(b *testing.B, dsn string) []*benchCase {
	all := benchCases(dsn)
	one, hundred := all[1], all[3]
	pooler := func(dsn string) string {
		return pgtest.WithParams(dsn, driver.ParamPooler, string(driver.PoolTransaction))
	}
	stdlibExec, execTables := *all[0], *all[4]
	stdlibExec.name, stdlibExec.dsn = "case=stdlib_exec", pgtest.WithParams(all[0].dsn, "default_query_exec_mode", "exec")
	execTables.name, execTables.dsn = "case=stdlib_exec_100_tables", pgtest.WithParams(all[4].dsn, "default_query_exec_mode", "exec")
	cases := []*benchCase{
		all[0],      // stdlib
		&stdlibExec, // what the pooler mode's exec mode costs by itself: the pooler cases' ceiling
		&execTables, // the same over the 100 tenants' tables: the ceiling of pooler_100_tenants
		{name: "case=pooler_one_tenant", driver: driver.DriverName, dsn: pooler(dsn), ctxs: one.ctxs, seq: one.seq},
		{name: "case=pooler_100_tenants", driver: driver.DriverName, dsn: pooler(dsn), ctxs: hundred.ctxs, seq: hundred.seq},
	}
	if os.Getenv(pgtest.EnvPgBouncerDSN) != "" {
		cases = append(cases, &benchCase{name: "case=pgbouncer_pooler_100_tenants", driver: driver.DriverName,
			dsn: pooler(pgtest.PgBouncer(b, dsn)), ctxs: hundred.ctxs, seq: hundred.seq})
	}
	return cases
}

// benchFixture is the database every benchmark of the package shares, seeded once per process.
var benchFixture struct {
	once sync.Once
	err  error

	mu         sync.Mutex
	roundTrips map[string][2]float64 // by op and case name: cold, warm
}

// benchDatabase returns the DSN of a throwaway database with schemas t0..t99, each with
// items(id bigserial primary key, name text, v int) seeded with benchRows rows. The first call
// seeds it; later ones reuse it. Autovacuum is off for the tables: the inserts of one case would
// otherwise start a vacuum that runs during the next ones, and charge them its work.
//
// It is the package's database from pgtest.Main, not one from pgtest.NewDatabase: NewDatabase
// drops its database at the Cleanup of the b it is given, and testing.B runs a b's Cleanups after
// each of its runs, so a database made with the first b would be gone before the next benchmark.
// pgtest.Main creates the package's database when the process starts, and drops it when the
// process ends; the tests of the package use databases of their own (pgtest.NewDatabase).
func benchDatabase(b *testing.B) string {
	b.Helper()
	dsn := pgtest.DSN(b) // skips without a server; outside the Once, so each benchmark does
	benchFixture.once.Do(func() { benchFixture.err = benchSeed(dsn) })
	if benchFixture.err != nil {
		b.Fatal(benchFixture.err)
	}
	return dsn
}

func benchSeed(dsn string) error {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("bench seed: %w", err)
	}
	defer c.Close(ctx)
	// No arguments: one simple-protocol Query, which the server runs as one transaction.
	if _, err := c.Exec(ctx, tenantsql.Items(benchTenants, benchRows)); err != nil {
		return fmt.Errorf("bench seed: %w", err)
	}
	return nil
}

func benchOpen(b *testing.B, driverName, dsn string, conns int) *sql.DB {
	b.Helper()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns) // the default of 2 idle would close and reopen connections above 2
	return db
}

// benchWarm runs, on each of conns connections held at once, two operations (the first reuse of a
// connection pays pgx stdlib's ResetSession ping) and then benchWarmRuns operations in each of the
// case's contexts, so that every tenant's statement is prepared and past PostgreSQL's custom plans,
// and the timed loop sees a steady state.
// benchWarmRuns is how many times the warm-up runs each tenant's statement. PostgreSQL plans a
// prepared statement anew for each of its first five executions (custom plans) before it
// considers a cached generic plan: a service that has run a while is past them for its tenants'
// statements, and so is the timed loop after 6.
const benchWarmRuns = 6

func benchWarm(b *testing.B, db *sql.DB, c *benchCase, op benchOp, conns int) {
	b.Helper()
	ctx := context.Background()
	held := make([]*sql.Conn, conns)
	for i := range held {
		cn, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		held[i] = cn
		for j := range 2 {
			if err := op.run(c.ctxs[0], cn, j); err != nil {
				b.Fatal(err)
			}
		}
		for j := range benchWarmRuns * len(c.ctxs) {
			if err := op.run(c.ctxs[j%len(c.ctxs)], cn, j); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, cn := range held {
		cn.Close()
	}
}

// benchRoundTrips measures c's round trips per operation through a proxy, on a database/sql pool
// of one connection, the way the single-connection benchmarks run: once per process for each op
// and case (the parallel benchmarks reuse the serial ones' numbers, which do not depend on the
// pool's size).
func benchRoundTrips(b *testing.B, base string, c *benchCase, op benchOp) (cold, warm float64) {
	key := op.name + "/" + c.name
	benchFixture.mu.Lock()
	defer benchFixture.mu.Unlock()
	if rt, ok := benchFixture.roundTrips[key]; ok {
		return rt[0], rt[1]
	}
	p := pgtest.StartProxy(b, pgtest.TargetAddr(b, c.dsn)) // the server, or the PgBouncer in front of it
	db := benchOpen(b, c.driver, p.DSN(c.dsn), 1)
	defer db.Close()
	ctx := context.Background()
	// Connect, and go through a first ResetSession, whose ping (pgx stdlib pings a connection idle
	// for over a second, and a new one's last reset is at time zero) is not the case's cost.
	for range 2 {
		cn, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		cn.Close()
	}
	run := func(from int) float64 {
		p.Reset()
		for i := from; i < from+benchProxyOps; i++ {
			if err := op.run(c.ctx(i), db, i); err != nil {
				b.Fatal(err)
			}
		}
		return float64(p.Stats().RoundTrips()) / benchProxyOps
	}
	cold = run(0)
	for j, tctx := range c.ctxs { // prepare every tenant's statement
		if err := op.run(tctx, db, j); err != nil {
			b.Fatal(err)
		}
	}
	warm = run(benchProxyOps)
	if benchFixture.roundTrips == nil {
		benchFixture.roundTrips = map[string][2]float64{}
	}
	benchFixture.roundTrips[key] = [2]float64{cold, warm}
	return cold, warm
}

func benchReportRoundTrips(b *testing.B, base string, c *benchCase, op benchOp) {
	cold, warm := benchRoundTrips(b, base, c, op)
	b.ReportMetric(cold, "roundtrips/op")
	b.ReportMetric(warm, "warm-roundtrips/op")
}

// benchSerial runs every case of cases on one connection (SetMaxOpenConns(1)), so that schema
// switches are measured on it.
func benchSerial(b *testing.B, op benchOp, cases func(b *testing.B, dsn string) []*benchCase) {
	base := benchDatabase(b)
	for _, c := range benchRotate(cases(b, base)) {
		b.Run(c.name, func(b *testing.B) {
			db := benchOpen(b, c.driver, c.dsn, 1)
			defer db.Close()
			benchWarm(b, db, c, op, 1)
			var pid int
			if err := db.QueryRowContext(c.ctx(0), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				b.Fatal(err)
			}
			server := benchServerCPU(b, pid)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := op.run(c.ctx(i), db, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			server()
			// b.Loop has stopped the timer: the proxy's operations are not measured.
			benchReportRoundTrips(b, base, c, op)
		})
	}
}

// benchParallel runs stdlib and one_tenant with b.RunParallel over a pool of benchParallelConns
// connections and as many goroutines.
func benchParallel(b *testing.B, op benchOp) {
	base := benchDatabase(b)
	for _, c := range benchCases(base)[:2] { // stdlib, one_tenant
		b.Run(c.name, func(b *testing.B) {
			db := benchOpen(b, c.driver, c.dsn, benchParallelConns)
			defer db.Close()
			benchWarm(b, db, c, op, benchParallelConns)
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((benchParallelConns + procs - 1) / procs) // goroutines: parallelism x GOMAXPROCS
			b.ReportAllocs()
			var worker atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(worker.Add(1)) * 1_000_000
				for pb.Next() {
					if err := op.run(c.ctx(i), db, i); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.StopTimer()
			benchReportRoundTrips(b, base, c, op)
		})
	}
}

// benchRoundEnv names the environment variable that bench/run.sh sets to the number of its round,
// from 1.
const benchRoundEnv = "PGSCHEMAS_BENCH_ROUND"

// benchRotate returns cases in the order of this round: round r starts at case (r-1) mod
// len(cases), so that over the rounds each case runs as often at each place of the order as
// the others. A fixed order charges the cases that run later for what the earlier ones leave
// behind (a larger table, dirty pages to write, the server's caches warmed for other tables). Round 1
// (or none) keeps the order, so that the first case, the baseline, is the first that
// benchstat and bench/run.sh see.
func benchRotate[T any](cases []T) []T {
	r, err := strconv.Atoi(os.Getenv(benchRoundEnv))
	if err != nil || r < 1 || len(cases) == 0 {
		return cases
	}
	k := (r - 1) % len(cases)
	return append(append([]T(nil), cases[k:]...), cases[:k]...)
}

// benchStdlibCases are the cases of the benchmarks against pgx stdlib.
func benchStdlibCases(_ *testing.B, dsn string) []*benchCase { return benchCases(dsn) }

func BenchmarkSelect(b *testing.B)         { benchSerial(b, benchSelect, benchStdlibCases) }
func BenchmarkInsert(b *testing.B)         { benchSerial(b, benchInsert, benchStdlibCases) }
func BenchmarkPoolerSelect(b *testing.B)   { benchSerial(b, benchSelect, benchPoolerCases) }
func BenchmarkPoolerInsert(b *testing.B)   { benchSerial(b, benchInsert, benchPoolerCases) }
func BenchmarkSelectParallel(b *testing.B) { benchParallel(b, benchSelect) }
func BenchmarkInsertParallel(b *testing.B) { benchParallel(b, benchInsert) }

// benchServerCPU reads the CPU time that the server process pid has spent so far, and returns a
// function that reports the time it spent since, per operation of the benchmark, as server-ns/op.
// Where /proc does not show the process (a server on another machine), it reports nothing.
func benchServerCPU(b *testing.B, pid int) func() {
	read := func() (int64, bool) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
		if err != nil {
			return 0, false
		}
		fields := strings.Fields(string(data))
		if len(fields) == 0 {
			return 0, false
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		return ns, err == nil
	}
	start, ok := read()
	return func() {
		if end, ok2 := read(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "server-ns/op")
		}
	}
}
