package schemaset_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/schemaset"
)

// BenchmarkPool measures tenant creation on the reference (see BenchmarkClone) by the
// three ways against each other, in one run:
//
//   - case=claim: CreateTenant claiming a pooled schema (a row lock, a rename, the tenant's rows).
//     The pool is filled with b.N schemas before the timing, so run it with a fixed count, such
//     as -benchtime=20x: each pooled schema is a clone;
//   - case=clone: CreateTenant cloning the reference, with the pool empty;
//   - case=floor-exec: the reference's DDL and rows as one script in one transaction through the
//     pool; case=floor: the same script by psql -1.
//
// Each case reports median-ms, the median of its creations' wall times (less disturbed by a
// stray slow creation than the mean, ns/op), and the parent logs the medians' ratios to the
// floors.
func BenchmarkPool(b *testing.B) {
	ctx := context.Background()
	env := newBenchEnv(b)
	medians := map[string]float64{}
	timed := func(b *testing.B, key string, create func(name string) error) {
		var took []time.Duration
		cpu := serverCPU(b, env.db)
		b.ResetTimer()
		// Not b.Loop: case=claim sizes its pool by b.N, which b.Loop sets only as it goes.
		for range b.N {
			name := env.name(strings.ReplaceAll(key, "-", "_"))
			start := time.Now()
			if err := create(name); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		cpu(b)
		slices.Sort(took)
		m := float64(took[len(took)/2].Microseconds()) / 1000
		b.ReportMetric(m, "median-ms")
		medians[key] = m
	}
	b.Run("case=claim", func(b *testing.B) {
		e := schemaset.New(env.withRef.Set(), env.db, schemaset.Options{PoolSize: b.N})
		if fill, err := e.FillPool(ctx); err != nil || fill.Ready != b.N {
			b.Fatalf("fill the pool with %d: %+v, %v", b.N, fill, err)
		}
		timed(b, "claim", func(name string) error { return e.CreateTenant(ctx, name) })
		st, err := e.PoolStatus(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Schemas) != 0 {
			b.Fatalf("after %d creations, %d pooled schemas are left: not every creation claimed", b.N, len(st.Schemas))
		}
	})
	b.Run("case=clone", func(b *testing.B) {
		// The first clone generates the script; it is cached for the rest, as in BenchmarkClone.
		if err := env.withRef.CreateTenant(ctx, env.name("clone_warm")); err != nil {
			b.Fatal(err)
		}
		timed(b, "clone", func(name string) error { return env.withRef.CreateTenant(ctx, name) })
	})
	b.Run("case=floor-exec", func(b *testing.B) {
		timed(b, "floor-exec", func(name string) error { return env.floorExec(ctx, name) })
	})
	b.Run("case=floor", func(b *testing.B) {
		timed(b, "floor", env.floorPsql)
	})
	for _, floor := range []string{"floor-exec", "floor"} {
		if f := medians[floor]; f > 0 {
			b.Logf("median ratios to %s (%.1f ms): claim %.3f, clone %.3f", floor, f, medians["claim"]/f, medians["clone"]/f)
		}
	}
}
