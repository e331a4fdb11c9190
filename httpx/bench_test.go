package httpx

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

// BenchmarkMiddleware compares a bare handler with the same handler behind the middleware, on
// cached answers: 10 static tenants, 100,000 dynamic tenants on hosts of their own (visited in
// turn), and a tenant in a folder (whose URL is copied and stripped). The handler does nothing;
// the allocations are the middleware's (the request and context copies).
func BenchmarkMiddleware(b *testing.B) {
	const static, dynamic = 10, 100_000
	db, err := sql.Open("pgschemas", pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := schemaset.EnsureRegistry(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	_, err = db.Exec(fmt.Sprintf(`
		INSERT INTO public.pgschemas_tenant (schema_name) SELECT 't' || i FROM generate_series(1, %[1]d) i;
		INSERT INTO public.pgschemas_domain (domain, folder, tenant, is_primary)
			SELECT 't' || i || '.example.com', '', 't' || i, true FROM generate_series(1, %[1]d) i
			UNION ALL SELECT 'shared.example.com', 'shop', 't1', false`, dynamic))
	if err != nil {
		b.Fatal(err)
	}
	cfg := &schemaset.Config{Dynamic: &schemaset.Dynamic{}}
	for i := range static {
		cfg.Static = append(cfg.Static, schemaset.Static{Name: fmt.Sprint("s", i), Domains: []string{fmt.Sprintf("s%d.example.com", i)}})
	}
	res, err := resolve.New(cfg, db, resolve.Options{CacheSize: 2 * dynamic})
	if err != nil {
		b.Fatal(err)
	}
	defer res.Close()
	if _, err := res.Preload(context.Background()); err != nil {
		b.Fatal(err)
	}

	requests := func(n int, hostFormat, target string) []*http.Request {
		reqs := make([]*http.Request, n)
		for i := range reqs {
			reqs[i], _ = http.NewRequest(http.MethodGet, "http://"+fmt.Sprintf(hostFormat, i)+target, nil)
		}
		return reqs
	}
	staticReqs := requests(static, "s%d.example.com", "/cart")
	dynamicReqs := requests(dynamic, "t%d.example.com", "/cart")[1:] // t0 does not exist
	folderReq, _ := http.NewRequest(http.MethodGet, "http://shared.example.com/shop/cart?x=1", nil)
	folderReqs := []*http.Request{folderReq}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mw := Middleware(res)(ok)
	for _, c := range []struct {
		name string
		h    http.Handler
		reqs []*http.Request
	}{
		{"bare", ok, staticReqs},
		{"static10", mw, staticReqs},
		{"dynamic100k", mw, dynamicReqs},
		{"folder", mw, folderReqs},
	} {
		b.Run(c.name, func(b *testing.B) {
			w := &discard{}
			loads := res.Stats().Loads
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				w.status = 0
				c.h.ServeHTTP(w, c.reqs[i%len(c.reqs)])
				if w.status != http.StatusNoContent {
					b.Fatalf("%s: status %d", c.reqs[i%len(c.reqs)].Host, w.status)
				}
				i++
			}
			if l := res.Stats().Loads; l != loads {
				b.Fatalf("%d queries during the benchmark", l-loads)
			}
		})
	}
}
