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
// a clone (CreateTenant by an engine that keeps no pool), apps (CreateTenant in a set without a
// reference: the apps' plan, which holds no views, functions, triggers or rows), floor-exec (the reference's DDL and rows as one
// script in one transaction, through the pool) and floor (that script by psql -1). It reports the
// median wall time of each way (claim-ms, clone-ms, apps-ms, floor-exec-ms, floor-ms) and the
// ratios of the medians to the floors (claim/floor-exec, clone/floor, ...). The pool is filled
// with b.N schemas before the timing (each a clone), so run it with a fixed count, such as
// -benchtime=20x.
//
// case=claim: claims alone, one after the other, without the other ways' catalog writes in
// between (which make every backend rebuild its catalog caches); claim-ms is their median, and
// server-ms/op the CPU time of the database's backends per claim.
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
	// The first creation of each engine computes the desired state or the clone script, which the
	// engine caches: not in the timing, as in BenchmarkClone.
	for _, e := range []*schemaset.Engine{env.withRef, env.noRef} {
		if err := e.CreateTenant(ctx, env.name("warm")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("case=interleaved", func(b *testing.B) {
		pool := filled(b, b.N)
		ways := []struct {
			name   string
			create func(name string) error
		}{
			{"claim", func(name string) error { return pool.CreateTenant(ctx, name) }},
			// env's engines keep no pool: they clone, or build from the apps.
			{"clone", func(name string) error { return env.withRef.CreateTenant(ctx, name) }},
			{"apps", func(name string) error { return env.noRef.CreateTenant(ctx, name) }},
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
		for i, w := range ways[:3] {
			for _, f := range []int{3, 4} {
				b.ReportMetric(median[i]/median[f], w.name+"/"+ways[f].name)
			}
		}
	})
	b.Run("case=claim", func(b *testing.B) {
		pool := filled(b, b.N)
		var took []time.Duration
		cpu := serverCPU(b, env.db)
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if err := pool.CreateTenant(ctx, env.name("c")); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		b.StopTimer()
		cpu(b)
		empty(b, pool)
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "claim-ms")
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
