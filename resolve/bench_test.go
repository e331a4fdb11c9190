package resolve

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"testing"

	"github.com/pgschemas/pgschemas/schemaset"
)

const (
	benchStatic  = 10
	benchDynamic = 100_000
	benchFolders = 1_000 // folder rows on one shared host, for the dynamic tenants 1..1000
)

// benchSet returns a config with 10 static tenants (static<i>.example.com) and a database with
// 100,000 dynamic tenants, each with its primary domain t<i>.example.com, and the first 1,000 also
// on shared.example.com/t<i>.
func benchSet(b *testing.B) (*schemaset.Config, *sql.DB) {
	db, _ := openDB(b, "pgschemas")
	cfg := &schemaset.Config{Dynamic: &schemaset.Dynamic{}}
	for i := range benchStatic {
		cfg.Static = append(cfg.Static, schemaset.Static{
			Name: fmt.Sprint("static", i), Domains: []string{fmt.Sprintf("static%d.example.com", i)},
		})
	}
	exec(b, db,
		fmt.Sprintf(`INSERT INTO public.pgschemas_tenant (schema_name) SELECT 't' || i FROM generate_series(1, %d) i`, benchDynamic),
		fmt.Sprintf(`INSERT INTO public.pgschemas_domain (domain, tenant, is_primary)
			SELECT 't' || i || '.example.com', 't' || i, true FROM generate_series(1, %d) i`, benchDynamic),
		fmt.Sprintf(`INSERT INTO public.pgschemas_domain (domain, folder, tenant)
			SELECT 'shared.example.com', 't' || i, 't' || i FROM generate_series(1, %d) i`, benchFolders),
	)
	return cfg, db
}

// BenchmarkResolve measures cached answers: 10 static domains, and 100,000 dynamic domains
// preloaded, visited in turn. It fails if any answer needed a query.
func BenchmarkResolve(b *testing.B) {
	cfg, db := benchSet(b)
	res := newResolver(b, cfg, db, Options{CacheSize: 2 * benchDynamic})
	waitListening(b, res)
	if n, err := res.Preload(context.Background()); err != nil || n != benchDynamic+benchFolders {
		b.Fatalf("Preload = %d, %v", n, err)
	}
	hosts := func(n int, format string) []string {
		h := make([]string, n)
		for i := range h {
			h[i] = fmt.Sprintf(format, i+1)
		}
		return h
	}
	static := hosts(benchStatic, "static%d.example.com")
	static[benchStatic-1] = "static0.example.com" // static tenants are numbered from 0
	dynamic := hosts(benchDynamic, "t%d.example.com")
	folders := hosts(benchFolders, "/t%d/cart")
	cases := []struct {
		name  string
		hosts []string
		paths []string
		want  Kind
	}{
		{"static10", static, []string{"/cart"}, KindStatic},
		{"dynamic100k", dynamic, []string{"/cart"}, KindDynamic},
		{"dynamic100k-upper-port", hosts(benchDynamic, "T%d.Example.COM:8443"), []string{"/cart"}, KindDynamic},
		{"folder1k", []string{"shared.example.com"}, folders, KindDynamic},
		{"negative", []string{"unknown.example.com"}, []string{"/"}, KindNone},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := range max(len(c.hosts), len(c.paths)) { // warm: the negative answer is loaded once
				res.Resolve(ctx, c.hosts[i%len(c.hosts)], c.paths[i%len(c.paths)])
			}
			loads := res.Stats().Loads
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				t, _, _ := res.Resolve(ctx, c.hosts[i%len(c.hosts)], c.paths[i%len(c.paths)])
				if t.Kind != c.want {
					b.Fatalf("%s%s: %+v", c.hosts[i%len(c.hosts)], c.paths[i%len(c.paths)], t)
				}
				i++
			}
			if l := res.Stats().Loads; l != loads {
				b.Fatalf("%d queries during the benchmark", l-loads)
			}
		})
	}
	b.Run("dynamic100k-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if t, _, _ := res.Resolve(ctx, dynamic[i%benchDynamic], "/cart"); t.Kind != KindDynamic {
					b.Errorf("%s: %+v", dynamic[i%benchDynamic], t)
					return
				}
				i += 7919 // a prime, so goroutines spread over the hosts
			}
		})
	})
}

// BenchmarkCacheMemory reports the heap that 100,000 cached domains take (one per tenant, each
// its tenant's primary): heap-B/domain and heap-MB, measured with runtime.ReadMemStats after a
// GC, before and after Preload. The time per op is that of Preload.
func BenchmarkCacheMemory(b *testing.B) {
	cfg, db := benchSet(b)
	exec(b, db, `DELETE FROM public.pgschemas_domain WHERE domain = 'shared.example.com'`)
	var heap uint64
	for b.Loop() {
		res := newResolver(b, cfg, db, Options{CacheSize: benchDynamic, DisableListen: true})
		before := heapAlloc()
		n, err := res.Preload(context.Background())
		if err != nil || n != benchDynamic {
			b.Fatalf("Preload = %d, %v", n, err)
		}
		heap = heapAlloc() - before
		runtime.KeepAlive(res)
	}
	b.ReportMetric(float64(heap)/benchDynamic, "heap-B/domain")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
