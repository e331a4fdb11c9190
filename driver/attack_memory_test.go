package driver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// The backend memory tests: PostgreSQL keeps, in each backend, the catalog entries of every
// relation that backend has touched (CacheMemoryContext and its children), plus the plans of its
// prepared statements, and never gives that memory back.

// memTables is the number of tables of each tenant of the memory tests.
const memTables = 10

// cacheBytesSQL reads the size of the backend's catalog cache, in bytes.
const cacheBytesSQL = `SELECT sum(total_bytes)::text FROM pg_backend_memory_contexts
	WHERE name = 'CacheMemoryContext' OR parent = 'CacheMemoryContext'`

// memTenant names the i-th tenant of the memory tests.
func memTenant(i int) string { return fmt.Sprintf("m%05d", i) }

// memTouchSQL reads every table of a tenant once, by unqualified names, and returns the
// backend's pid.
var memTouchSQL = func() string {
	var parts []string
	for i := range memTables {
		parts = append(parts, fmt.Sprintf("(SELECT count(*) FROM t%d)", i))
	}
	return "SELECT CASE WHEN " + strings.Join(parts, " + ") + " >= 0 THEN pg_backend_pid()::text END"
}()

// createMemTenants creates n tenants of memTables tables in the database at dsn: 50 schemas per
// script, 4 scripts at once. The tables are (id int, v int): one relation each, with no index or
// TOAST table, which would make each CREATE TABLE several times slower (2,000 tenants take about
// 30 s of one connection here).
func createMemTenants(t testing.TB, dsn string, n int) {
	t.Helper()
	admin(t, dsn, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database()); END $$")
	const batch = 50
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(4)
	for from := 0; from < n; from += batch {
		g.Go(func() error {
			var b strings.Builder
			b.WriteString("SET synchronous_commit = off;\n")
			for i := from; i < min(from+batch, n); i++ {
				fmt.Fprintf(&b, "CREATE SCHEMA %s;\n", memTenant(i))
				for j := range memTables {
					fmt.Fprintf(&b, "CREATE TABLE %s.t%d (id int, v int);\n", memTenant(i), j)
				}
			}
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			_, err = c.Exec(ctx, b.String())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("create %d tenants: %v", n, err)
	}
}

// BenchmarkBackendCacheGrowth measures how one backend's catalog cache grows per tenant of
// memTables tables it touches (memTouchSQL in the tenant's path), with the statement sent in the
// simple protocol (catalog entries only) and prepared per tenant, as a statement cache keyed by
// tenant does (plus each tenant's plan). It reports kB per tenant over 500 tenants, and the cache
// at the start. The figure sets the default of MaxTenantsPerConn.
//
//	go test -run '^$' -bench BackendCacheGrowth -benchtime 1x ./driver/
func BenchmarkBackendCacheGrowth(b *testing.B) {
	const n = 500
	dsn := pgtest.NewDatabase(b)
	createMemTenants(b, dsn, n)
	for _, tc := range []struct {
		name string
		mode pgx.QueryExecMode
	}{{"simple_protocol", pgx.QueryExecModeSimpleProtocol}, {"prepared_per_tenant", pgx.QueryExecModeCacheStatement}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				ctx := context.Background()
				c, err := pgx.Connect(ctx, dsn)
				if err != nil {
					b.Fatal(err)
				}
				cache := func() float64 {
					var s string
					if err := c.QueryRow(ctx, cacheBytesSQL, pgx.QueryExecModeSimpleProtocol).Scan(&s); err != nil {
						b.Fatal(err)
					}
					var v float64
					fmt.Sscan(s, &v)
					return v
				}
				start := cache()
				for i := range n {
					if _, err := c.Exec(ctx, "SET search_path = "+memTenant(i)+", public"); err != nil {
						b.Fatal(err)
					}
					var s string
					// A tenant's own SQL text, as a statement cache keyed by tenant holds it.
					if err := c.QueryRow(ctx, memTouchSQL+" -- "+memTenant(i), tc.mode).Scan(&s); err != nil {
						b.Fatal(err)
					}
				}
				end := cache()
				c.Close(ctx)
				b.ReportMetric((end-start)/n/1024, "kB/tenant")
				b.ReportMetric(start/1024/1024, "MB-at-start")
				b.ReportMetric(end/1024/1024, "MB-after-500")
			}
		})
	}
}
