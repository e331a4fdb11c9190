package schemaset_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/internal/citustest"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// The Citus benchmarks compare the engine on the 3-node Citus cluster of PGSCHEMAS_CITUS_DSN
// (server=citus) with the same on the single local server (server=single), in one run, so that
// benchstat gives ratios. They are not run by go test without -bench, and they skip the citus
// half without a cluster. The figures in the README come from:
//
//	go test -run '^$' -bench 'BenchmarkCitus' -benchtime 10x -count 1 ./schemaset/
//
// (BenchmarkCitusApply and BenchmarkCitusMove run one operation each: -benchtime 1x for them.)

// benchServers are the two sides of each benchmark.
var benchServers = []struct {
	name string
	new  func(testing.TB) string
}{
	{"single", pgtest.NewDatabase},
	{"citus", citustest.NewDatabase},
}

func benchDB(b *testing.B, newDB func(testing.TB) string) *sql.DB {
	db, err := sql.Open("pgx", newDB(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkCitusCreateTenant creates a tenant of the sample set per op: by clone of the reference
// (rows included), and from the apps (a set without a reference).
func BenchmarkCitusCreateTenant(b *testing.B) {
	ctx := context.Background()
	for _, srv := range benchServers {
		for _, how := range []string{"clone", "apps"} {
			b.Run("server="+srv.name+"/how="+how, func(b *testing.B) {
				db := benchDB(b, srv.new)
				set := sampleSet(b, nil)
				mustApply(b, schemaset.New(set, db, schemaset.Options{}), schemaset.ApplyOptions{})
				if how == "apps" {
					set = sampleSet(b, map[string]string{"pgschemas.hcl": strings.Replace(sampleConfig(b), `clone_reference = "sample"`, "", 1)})
				}
				e := schemaset.New(set, db, schemaset.Options{})
				if err := e.CreateTenant(ctx, "warmup"); err != nil { // caches: desired state, clone script
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := range b.N {
					if err := e.CreateTenant(ctx, fmt.Sprintf("t%d", i)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCitusApply applies an added column and index to 1,000 dynamic tenants (and the
// reference) per op: plan once, apply many. PGSCHEMAS_BENCH_TENANTS sets another number.
func BenchmarkCitusApply(b *testing.B) {
	tenants := 1000
	if n, err := strconv.Atoi(os.Getenv("PGSCHEMAS_BENCH_TENANTS")); err == nil && n > 0 {
		tenants = n
	}
	ctx := context.Background()
	for _, srv := range benchServers {
		b.Run("server="+srv.name, func(b *testing.B) {
			db := benchDB(b, srv.new)
			db.SetMaxOpenConns(16)
			e := schemaset.New(sampleSet(b, nil), db, schemaset.Options{})
			mustApply(b, e, schemaset.ApplyOptions{})
			var next atomic.Int64
			g, gctx := errgroup.WithContext(ctx)
			for range 2 {
				g.Go(func() error {
					for i := next.Add(1); i <= int64(tenants); i = next.Add(1) {
						// On Citus, concurrent creations wait on each other's distribution (a
						// lock on the reference tables their foreign keys point to): retry one
						// that waited past the lock timeout.
						err := e.CreateTenant(gctx, fmt.Sprintf("t%04d", i))
						for try := 0; err != nil && strings.Contains(err.Error(), "55P03") && try < 3; try++ {
							err = e.CreateTenant(gctx, fmt.Sprintf("t%04d", i))
						}
						if err != nil {
							return err
						}
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			notes := readSample(b, "apps/tenant/notes.sql")
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				notes += fmt.Sprintf("\nALTER TABLE notes ADD COLUMN extra%d integer;\nCREATE INDEX notes_extra%d_idx ON notes (extra%d);\n", i, i, i)
				e := schemaset.New(sampleSet(b, map[string]string{"apps/tenant/notes.sql": notes}), db, schemaset.Options{})
				targets := mustSelect(b, e, schemaset.Selector{Tenants: true})
				b.StartTimer()
				rep, err := e.Apply(ctx, targets, schemaset.ApplyOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if err := rep.Err(); err != nil {
					b.Fatal(err)
				}
				if n := rep.Count(schemaset.OutcomeApplied); n != tenants+1 {
					b.Fatalf("applied %d schemas, want %d", n, tenants+1)
				}
			}
		})
	}
}

// BenchmarkCitusMove moves a tenant holding 100,000 rows between the two workers per op, in each
// transfer mode, and reports the longest wait of a write during the move (blocked-ms/op).
func BenchmarkCitusMove(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b, citustest.NewDatabase)
	e := schemaset.New(sampleSet(b, nil), db, schemaset.Options{})
	mustApply(b, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme"); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO acme.notes (body) SELECT md5(i::text) FROM generate_series(1, 100000) i`); err != nil {
		b.Fatal(err)
	}
	c, err := e.Citus(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []schemaset.TransferMode{schemaset.TransferBlockWrites, schemaset.TransferAuto} {
		b.Run("mode="+string(mode), func(b *testing.B) {
			var blocked time.Duration
			for range b.N {
				pl, err := e.Placements(ctx, []string{"acme"})
				if err != nil {
					b.Fatal(err)
				}
				to := c.Nodes[0]
				if pl[0].Node == to {
					to = c.Nodes[1]
				}
				res, err := e.MoveTenant(ctx, "acme", to, schemaset.MoveOptions{Mode: mode})
				if err != nil {
					b.Fatal(err)
				}
				blocked += res.WriteBlocked
				b.ReportMetric(float64(res.Bytes), "bytes")
			}
			b.ReportMetric(float64(blocked.Milliseconds())/float64(b.N), "blocked-ms/op")
		})
	}
}
