package schemaset_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/schemaset"
)

// BenchmarkPool measures tenant creation on the reference (see BenchmarkClone) by claim,
// by clone and by the floor, against each other in one run.
//
// case=interleaved: each iteration creates one tenant by each way, in turn, so that the load of a
// shared machine falls on all of them alike: a claim (CreateTenant with a current pooled schema),
// a clone (Clone of the reference as a tenant: CreateTenant's clone, which CreateTenant itself
// would not take while the pool has a current schema), floor-exec (the reference's DDL and rows as one
// script in one transaction, through the pool) and floor (that script by psql -1). It reports the
// median wall time of each way (claim-ms, clone-ms, floor-exec-ms, floor-ms) and the ratios of
// the medians (claim/floor-exec, clone/floor-exec, claim/floor, clone/floor). The pool is filled
// with b.N schemas before the timing (each a clone), so run it with a fixed count, such as
// -benchtime=20x.
//
// case=parallel4: b.N claims, 4 at a time, then b.N clones, 4 at a time; claim-tenants/s and
// clone-tenants/s are the throughputs.
func BenchmarkPool(b *testing.B) {
	ctx := context.Background()
	env := newBenchEnv(b)
	// filled returns an engine whose pool holds n current schemas; the plain engine has none.
	filled := func(b *testing.B, n int) *schemaset.Engine {
		e := schemaset.New(env.withRef.Set(), env.db, schemaset.Options{PoolSize: n})
		if fill, err := e.FillPool(ctx); err != nil || fill.Ready != n {
			b.Fatalf("fill the pool with %d: %+v, %v", n, fill, err)
		}
		return e
	}
	// empty checks that every creation by e claimed: none of the pool is left.
	empty := func(b *testing.B, e *schemaset.Engine) {
		st, err := e.PoolStatus(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Schemas) != 0 {
			b.Fatalf("%d pooled schemas are left: not every creation claimed", len(st.Schemas))
		}
	}
	// The first clone generates the script; it is cached for the rest, as in BenchmarkClone.
	if err := env.withRef.CreateTenant(ctx, env.name("clone_warm")); err != nil {
		b.Fatal(err)
	}
	b.Run("case=interleaved", func(b *testing.B) {
		pool := filled(b, b.N)
		ways := []struct {
			name   string
			create func(name string) error
		}{
			{"claim", func(name string) error { return pool.CreateTenant(ctx, name) }},
			// Clone as a tenant, not CreateTenant: that would claim from the pool while it lasts.
			{"clone", func(name string) error { return env.withRef.Clone(ctx, "sample", name, true) }},
			{"floor-exec", func(name string) error { return env.floorExec(ctx, name) }},
			{"floor", env.floorPsql},
		}
		took := make([][]time.Duration, len(ways))
		b.ResetTimer()
		// Not b.Loop: the pool is sized by b.N, which b.Loop sets only as it goes.
		for range b.N {
			for i, w := range ways {
				name := env.name("i")
				start := time.Now()
				if err := w.create(name); err != nil {
					b.Fatalf("%s: %v", w.name, err)
				}
				took[i] = append(took[i], time.Since(start))
			}
		}
		b.StopTimer()
		empty(b, pool)
		median := make([]float64, len(ways))
		for i, w := range ways {
			slices.Sort(took[i])
			median[i] = float64(took[i][len(took[i])/2].Microseconds()) / 1000
			b.ReportMetric(median[i], w.name+"-ms")
		}
		b.ReportMetric(median[0]/median[2], "claim/floor-exec")
		b.ReportMetric(median[1]/median[2], "clone/floor-exec")
		b.ReportMetric(median[0]/median[3], "claim/floor")
		b.ReportMetric(median[1]/median[3], "clone/floor")
	})
	b.Run("case=parallel4", func(b *testing.B) {
		pool := filled(b, b.N)
		parallel := func(e *schemaset.Engine) float64 {
			start := time.Now()
			var g errgroup.Group
			g.SetLimit(4)
			for range b.N {
				g.Go(func() error { return e.CreateTenant(ctx, env.name("p")) })
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			return float64(b.N) / time.Since(start).Seconds()
		}
		b.ResetTimer()
		claims := parallel(pool)
		clones := parallel(env.withRef)
		b.StopTimer()
		empty(b, pool)
		b.ReportMetric(claims, "claim-tenants/s")
		b.ReportMetric(clones, "clone-tenants/s")
	})
}
