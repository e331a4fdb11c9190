package schemaset_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/citustest"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// BenchmarkCitus compares the engine and the driver on the 3-node Citus cluster of
// PGSCHEMAS_CITUS_DSN with the same on the single local server, for the README's figures, in one
// run. It skips without a cluster.
//
// Each execution of a sub-benchmark is one paired round: the operation on the single server,
// then on Citus, seconds apart, reported as the metrics <unit>-single and <unit>-citus and their
// ratio citus/single (ns/op is the two sides together and means nothing). Run it with
// -benchtime 1x -count R for R interleaved rounds, and benchstat gives the median of each metric
// over the rounds, the ratio paired by round. (go test -count repeats one sub-benchmark R times
// in a row, not the sub-benchmarks in turn: pairing the two servers inside each execution is
// what interleaves them.) Both databases are set up once per process, for every round.
//
//	PGSCHEMAS_BENCH_TENANTS=1000 go test -run '^$' -bench '^BenchmarkCitus$' -benchtime 1x -count 6 -timeout 4h ./schemaset/ | tee citus.txt
//	benchstat citus.txt
//
// The sub-benchmarks, in the order they run:
//
//   - op=create/how=clone and how=apps: citusBenchCreates tenants of the sample set created one
//     at a time, by clone of the reference and from the apps (a set without a reference),
//     alternately on each server (ms per creation); dropped after the round, untimed;
//   - op=select/tenants=1 and tenants=100: citusBenchReads SELECTs by primary key through the
//     driver on one connection, in a tenant picked round robin among 1 or 100, so that at 100
//     most reads switch tenant (µs per read);
//   - op=move/mode=block_writes and mode=auto: Citus only: a move of a tenant holding 100,000
//     rows to the other worker, its time (s) and the longest wait of a write during it
//     (blocked-ms, MoveResult.WriteBlocked);
//   - op=apply: only with PGSCHEMAS_BENCH_TENANTS=N: Engine.Apply, by a new engine, of an added
//     column and index to the N dynamic tenants (at least citusBenchSelect) and the reference (s). Its first round first
//     creates the tenants up to N on both servers, with CreateTenant, 4 at a time (the rate is
//     logged); N = 1,000 took 9 to 14 minutes on the cluster, 22 to 46 s on the single server.
func BenchmarkCitus(b *testing.B) {
	tenants := 0
	if s := os.Getenv("PGSCHEMAS_BENCH_TENANTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("PGSCHEMAS_BENCH_TENANTS=%q: want a number of tenants", s)
		}
		tenants = max(n, citusBenchSelect)
	}
	citustest.DSN(b) // skips without a cluster
	var sides [2]*citusBenchSide
	for i, srv := range []struct {
		name string
		new  func(testing.TB) string
	}{{"single", pgtest.NewDatabase}, {"citus", citustest.NewDatabase}} {
		sides[i] = newCitusBenchSide(b, srv.name, srv.new(b))
	}
	citus := sides[1]
	ctx := context.Background()
	// Both sides hold citusBenchSelect tenants from here on, with citusBenchRows rows each.
	setUp := func(n int) {
		var g errgroup.Group
		for _, s := range sides {
			g.Go(func() error { return s.createTenants(ctx, n) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	setUp(citusBenchSelect)
	for _, s := range sides {
		s.fillNotes(b, citusBenchSelect)
	}

	for _, how := range []string{"clone", "apps"} {
		b.Run("op=create/how="+how, func(b *testing.B) {
			var took [2]time.Duration
			var made [2][]string
			for i := range citusBenchCreates {
				for k, s := range sides {
					name := fmt.Sprintf("%s_%d", how, s.seq())
					e := s.withRef
					if how == "apps" {
						e = s.noRef
					}
					start := time.Now()
					if err := e.CreateTenant(ctx, name); err != nil {
						b.Fatalf("%s, creation %d: %v", s.name, i, err)
					}
					took[k] += time.Since(start)
					made[k] = append(made[k], name)
				}
			}
			b.StopTimer()
			for k, s := range sides {
				for _, name := range made[k] {
					if err := s.withRef.DropTenant(ctx, name); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportPair(b, "ms", took[0].Seconds()*1e3/citusBenchCreates, took[1].Seconds()*1e3/citusBenchCreates)
		})
	}

	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("op=select/tenants=%d", n), func(b *testing.B) {
			var us [2]float64
			for k, s := range sides {
				us[k] = s.reads(b, n).Seconds() * 1e6 / citusBenchReads
			}
			reportPair(b, "us", us[0], us[1])
		})
	}

	mover := tenantName(0)
	moverOnce := sync.OnceFunc(func() {
		if _, err := citus.db.ExecContext(ctx, `INSERT INTO `+mover+`.settings (key, value) SELECT 'k' || i, md5(i::text) FROM generate_series(1, 100000) i`); err != nil {
			b.Fatal(err)
		}
	})
	for _, mode := range []schemaset.TransferMode{schemaset.TransferBlockWrites, schemaset.TransferAuto} {
		b.Run("op=move/mode="+string(mode), func(b *testing.B) {
			b.StopTimer()
			moverOnce()
			c, err := citus.withRef.Citus(ctx)
			if err != nil {
				b.Fatal(err)
			}
			pl, err := citus.withRef.Placements(ctx, []string{mover})
			if err != nil {
				b.Fatal(err)
			}
			to := c.Nodes[0]
			if pl[0].Node == to {
				to = c.Nodes[1]
			}
			b.StartTimer()
			res, err := citus.withRef.MoveTenant(ctx, mover, to, schemaset.MoveOptions{Mode: mode})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.Duration.Seconds(), "s-citus")
			b.ReportMetric(float64(res.WriteBlocked.Milliseconds()), "blocked-ms-citus")
			b.ReportMetric(float64(res.Bytes)/1e6, "MB")
		})
	}

	column := 0 // the columns that the rounds of op=apply have added
	b.Run("op=apply", func(b *testing.B) {
		if tenants == 0 {
			b.Skip("set PGSCHEMAS_BENCH_TENANTS to the number of tenants (1000 for the README's figure) to measure an apply")
		}
		b.StopTimer()
		setUp(tenants)
		column++
		notes := readSample(b, "apps/tenant/notes.sql")
		for c := 1; c <= column; c++ {
			notes += fmt.Sprintf("\nALTER TABLE notes ADD COLUMN extra%d integer;\nCREATE INDEX notes_extra%d_idx ON notes (extra%d);\n", c, c, c)
		}
		var took [2]time.Duration
		for k, s := range sides {
			e := schemaset.New(sampleSet(b, map[string]string{"apps/tenant/notes.sql": notes}), s.db, schemaset.Options{})
			targets := mustSelect(b, e, schemaset.Selector{Tenants: true})
			b.StartTimer()
			start := time.Now()
			rep, err := e.Apply(ctx, targets, schemaset.ApplyOptions{})
			took[k] = time.Since(start)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if err := rep.Err(); err != nil {
				b.Fatal(err)
			}
			if got := rep.Count(schemaset.OutcomeApplied); got != tenants+1 {
				b.Fatalf("%s: applied %d schemas, want %d tenants and the reference", s.name, got, tenants+1)
			}
		}
		reportPair(b, "s", took[0].Seconds(), took[1].Seconds())
	})
}

const (
	// citusBenchCreates is the number of tenants each round of op=create makes on each server.
	citusBenchCreates = 5
	// citusBenchSelect is the number of tenants op=select reads, and each side has at least.
	citusBenchSelect = 100
	// citusBenchRows is the number of notes each of those tenants holds.
	citusBenchRows = 1000
	// citusBenchReads is the number of reads of each round of op=select on each server.
	citusBenchReads = 2000
)

// reportPair reports a round's figure on each server, in unit, and their ratio.
func reportPair(b *testing.B, unit string, single, citus float64) {
	b.ReportMetric(single, unit+"-single")
	b.ReportMetric(citus, unit+"-citus")
	b.ReportMetric(citus/single, "citus/single")
}

// citusBenchSide is one server of BenchmarkCitus: a database with the sample set applied.
type citusBenchSide struct {
	name string
	db   *sql.DB
	// app is a pool of one connection through the pgschemas driver, for op=select.
	app *sql.DB
	// withRef creates tenants by clone, noRef from the apps.
	withRef, noRef *schemaset.Engine
	next           int
	// tenants is the number of tenants tenantName(0) ... that exist.
	tenants int
}

func newCitusBenchSide(b *testing.B, name, dsn string) *citusBenchSide {
	ctx := context.Background()
	s := &citusBenchSide{name: name}
	var err error
	if s.db, err = sql.Open("pgx", dsn); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.db.Close() })
	s.db.SetMaxOpenConns(16)
	if s.app, err = sql.Open(driver.DriverName, dsn); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.app.Close() })
	s.app.SetMaxOpenConns(1)
	s.withRef = schemaset.New(sampleSet(b, nil), s.db, schemaset.Options{})
	mustApply(b, s.withRef, schemaset.ApplyOptions{})
	s.noRef = schemaset.New(noRefSet(b), s.db, schemaset.Options{})
	// Warm each engine's caches (the desired state, the clone script), then leave no tenant.
	for _, e := range []*schemaset.Engine{s.withRef, s.noRef} {
		name := fmt.Sprintf("warm_%d", s.seq())
		if err := e.CreateTenant(ctx, name); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		if err := e.DropTenant(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// seq returns a number not used before on the side, for a tenant's name.
func (s *citusBenchSide) seq() int { s.next++; return s.next }

// tenantName is the name of the side's i-th long-lived tenant.
func tenantName(i int) string { return fmt.Sprintf("t%05d", i) }

// createTenants creates the side's tenants up to n with CreateTenant, 4 at a time, and logs the
// rate. It is called from one goroutine per side.
func (s *citusBenchSide) createTenants(ctx context.Context, n int) error {
	if s.tenants >= n {
		return nil
	}
	start, from := time.Now(), s.tenants
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := from; i < n; i++ {
		g.Go(func() error { return s.withRef.CreateTenant(gctx, tenantName(i)) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.tenants = n
	took := time.Since(start)
	fmt.Fprintf(os.Stderr, "BenchmarkCitus: %s: created %d tenants in %s (%.1f/s, 4 at a time)\n", s.name, n-from, took.Round(time.Second), float64(n-from)/took.Seconds())
	return nil
}

// fillNotes gives each of the side's first n tenants citusBenchRows notes, ids 1 and up.
func (s *citusBenchSide) fillNotes(b *testing.B, n int) {
	for i := range n {
		if _, err := s.db.Exec(`INSERT INTO ` + tenantName(i) + fmt.Sprintf(`.notes (body) SELECT md5(i::text) FROM generate_series(1, %d) i`, citusBenchRows)); err != nil {
			b.Fatal(err)
		}
	}
}

// reads times citusBenchReads SELECTs by primary key through the driver, round robin over the
// side's first n tenants, after one untimed read in each (so that each has its prepared statement).
func (s *citusBenchSide) reads(b *testing.B, n int) time.Duration {
	ctxs := make([]context.Context, n)
	var body string
	for i := range n {
		ctxs[i] = driver.WithSchema(context.Background(), tenantName(i))
		if err := s.app.QueryRowContext(ctxs[i], `SELECT body FROM notes WHERE id = $1`, 1).Scan(&body); err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
	}
	start := time.Now()
	for i := range citusBenchReads {
		if err := s.app.QueryRowContext(ctxs[i%n], `SELECT body FROM notes WHERE id = $1`, i%citusBenchRows+1).Scan(&body); err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
	}
	return time.Since(start)
}
