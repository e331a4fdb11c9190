package schemaset_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/schemaset"
)

// BenchmarkTenantList measures ListTenants, without and with Stats, over the tenants of
// BenchmarkScale (PGSCHEMAS_BENCH_TENANTS, default 100 and 1,000; 10 tables and 40 relations each),
// each with two domains. It logs the server's own time for the query with stats (EXPLAIN ANALYZE).
//
//	PGSCHEMAS_BENCH_TENANTS=10000 go test -run '^$' -bench BenchmarkTenantList -benchtime 5x -timeout 60m ./schemaset
func BenchmarkTenantList(b *testing.B) {
	ctx := context.Background()
	for _, n := range scaleSizes(b) {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			db, e := scaleSetUp(b, n)
			if _, err := db.ExecContext(ctx, `INSERT INTO public.pgschemas_domain (domain, folder, tenant, is_primary)
				SELECT replace(schema_name, '_', '-') || '.example.test', '', schema_name, true FROM public.pgschemas_tenant;
				INSERT INTO public.pgschemas_domain (domain, folder, tenant)
				SELECT 'shared.example.test', schema_name, schema_name FROM public.pgschemas_tenant`); err != nil {
				b.Fatal(err)
			}
			analyzeCatalog(b, db)
			if _, err := db.ExecContext(ctx, `ANALYZE public.pgschemas_domain`); err != nil {
				b.Fatal(err)
			}
			var plan []string
			rows, err := db.QueryContext(ctx, "EXPLAIN (ANALYZE, TIMING OFF) "+schemaset.TenantListQuery, true)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					b.Fatal(err)
				}
				plan = append(plan, line)
			}
			rows.Close()
			b.Logf("%d tenants, with stats, on the server: %s", n, strings.TrimSpace(plan[len(plan)-1]))
			for _, stats := range []bool{false, true} {
				b.Run(fmt.Sprintf("stats=%v", stats), func(b *testing.B) {
					for b.Loop() {
						ts, err := e.ListTenants(ctx, schemaset.TenantListOptions{Stats: stats})
						if err != nil {
							b.Fatal(err)
						}
						if len(ts) != n || len(ts[0].Domains) != 2 || stats && ts[0].Stats.Tables != 10 {
							b.Fatalf("%d tenants, the first %+v", len(ts), ts[0])
						}
					}
				})
			}
		})
	}
}
