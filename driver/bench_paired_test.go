package driver_test

// BenchmarkPaired runs each case against its baseline in the same loop: the two take turns every
// benchBlock operations, on a connection each, so that whatever the machine does over seconds
// (another process, the hypervisor, a checkpoint) falls on both alike. The sub-benchmarks of
// BenchmarkSelect and the others run one after another, seconds apart, and their ratios carry that
// drift, which bench/run.sh's pairing by round does not remove within a round.
//
// Each sub-benchmark reports the time per operation of the case (case-ns/op) and of its baseline
// (base-ns/op) over the same blocks, and their ratio (base/case; >1: the case is faster). Its
// ns/op is the sum of both. bench/run.sh prints the median of base/case over its rounds.

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// benchBlock is how many operations one side runs before the other takes its turn: long enough
// that the turn's cost (a clock read) is nothing, short enough (a few milliseconds) that the
// machine does not change within a pair of turns.
const benchBlock = 50

// benchPair runs base and subject for b.N operations each, taking turns every benchBlock
// operations, the one that starts a turn alternating, and reports their times.
func benchPair(b *testing.B, base, subject func(i int) error) {
	runs := [2]func(int) error{base, subject}
	var took [2]time.Duration // base's, subject's
	b.ResetTimer()
	for n, turn := 0, 0; n < b.N; n, turn = n+benchBlock, turn+1 {
		k := min(benchBlock, b.N-n)
		for s := range 2 {
			side := (s + turn) % 2
			start := time.Now()
			for i := n; i < n+k; i++ {
				if err := runs[side](i); err != nil {
					b.Fatal(err)
				}
			}
			took[side] += time.Since(start)
		}
	}
	b.StopTimer()
	tBase, tCase := took[0], took[1]
	b.ReportMetric(float64(tBase.Nanoseconds())/float64(b.N), "base-ns/op")
	b.ReportMetric(float64(tCase.Nanoseconds())/float64(b.N), "case-ns/op")
	b.ReportMetric(float64(tBase)/float64(tCase), "base/case")
}

// benchPairedSQL pairs each case but the first of cases with the first, the baseline, over
// database/sql pools of one connection each, warmed up as benchSerial's are.
func benchPairedSQL(b *testing.B, op benchOp, cases []*benchCase) {
	open := func(b *testing.B, c *benchCase) func(int) error {
		db := benchOpen(b, c.driver, c.dsn, 1)
		b.Cleanup(func() { db.Close() })
		benchWarm(b, db, c, op, 1)
		return func(i int) error { return op.run(c.ctx(i), db, i) }
	}
	for _, c := range cases[1:] {
		b.Run(c.name, func(b *testing.B) { benchPair(b, open(b, cases[0]), open(b, c)) })
	}
}

// benchPairedPool does the same over pgxpool pools of one connection: plain pgxpool as the
// baseline, against a configured one for one tenant and for 100 at random.
func benchPairedPool(b *testing.B, query string) {
	cases := benchCases(benchDatabase(b))
	run := benchPoolOp(query)
	open := func(b *testing.B, plain bool, c *benchCase) func(int) error {
		p := benchPoolOpen(b, c.dsn, plain, c, run)
		return func(i int) error { return run(c.ctx(i), p, i) }
	}
	for _, c := range []*benchCase{cases[1], cases[3]} { // one_tenant, 100_tenants
		b.Run(c.name, func(b *testing.B) { benchPair(b, open(b, true, cases[0]), open(b, false, c)) })
	}
}

func BenchmarkPairedSelect(b *testing.B) { benchPaired(b, benchSelect, benchSelectSQL) }
func BenchmarkPairedInsert(b *testing.B) { benchPaired(b, benchInsert, benchInsertSQL) }

// benchPaired runs the paired cases of one operation: database/sql in the default, pooler and
// strict modes, and pgxpool.
func benchPaired(b *testing.B, op benchOp, query string) {
	dsn := benchDatabase(b)
	b.Run("api=sql", func(b *testing.B) {
		all := benchCases(dsn)
		pooler := benchPoolerCases(b, dsn) // stdlib, stdlib_exec, stdlib_exec_100_tables, pooler_...
		strict := benchStrictCases(b, dsn) // stdlib, strict_one_tenant, strict_100_tenants
		benchPairedSQL(b, op, []*benchCase{all[0], all[1], all[3], pooler[3], pooler[4], strict[1], strict[2]})
	})
	b.Run("api=pgxpool", func(b *testing.B) { benchPairedPool(b, query) })
}

// benchPoolOp returns the operation of the pgxpool benchmarks for query.
func benchPoolOp(query string) func(ctx context.Context, p *pgxpool.Pool, i int) error {
	return func(ctx context.Context, p *pgxpool.Pool, i int) error {
		if query == benchInsertSQL {
			_, err := p.Exec(ctx, benchSQL(ctx, query), "bench", int64(i%1000))
			return err
		}
		var (
			id   int64
			name string
			v    int32
		)
		return p.QueryRow(ctx, benchSQL(ctx, query), int64(i%benchRows+1)).Scan(&id, &name, &v)
	}
}

// benchPoolOpen opens a pool of one connection over dsn (plain, or configured by
// driver.ConfigurePool), and runs each of c's contexts through run 2+benchWarmRuns times: a
// tenant's first two calls of another tenant's statement run that statement, its own copy serves
// the later ones, and those get past PostgreSQL's custom plans.
func benchPoolOpen(b *testing.B, dsn string, plain bool, c *benchCase, run func(context.Context, *pgxpool.Pool, int) error) *pgxpool.Pool {
	p := openPool(b, dsn, plain, oneConn)
	for i := range (2 + benchWarmRuns) * len(c.ctxs) {
		if err := run(c.ctxs[i%len(c.ctxs)], p, i); err != nil {
			b.Fatal(err)
		}
	}
	return p
}
