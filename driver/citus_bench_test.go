package driver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/citustest"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// BenchmarkCitusSelectByPK reads one row by primary key through the driver, in a tenant picked
// round robin among 1 or 100 (so that most reads switch tenant), on one connection: directly on
// the single local server (server=single), and through the coordinator of the Citus cluster of
// PGSCHEMAS_CITUS_DSN (server=citus), where each tenant is a distributed schema on a worker.
//
//	go test -run '^$' -bench 'BenchmarkCitusSelectByPK' -count 6 ./driver/ | benchstat -col /server -
func BenchmarkCitusSelectByPK(b *testing.B) {
	for _, srv := range []struct {
		name string
		new  func(testing.TB) string
	}{{"single", pgtest.NewDatabase}, {"citus", citustest.NewDatabase}} {
		for _, tenants := range []int{1, 100} {
			b.Run(fmt.Sprintf("server=%s/tenants=%d", srv.name, tenants), func(b *testing.B) {
				dsn := srv.new(b)
				var setup strings.Builder
				ctxs := make([]context.Context, tenants)
				for i := range tenants {
					s := fmt.Sprintf("t%03d", i)
					fmt.Fprintf(&setup, "CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.items (id bigint PRIMARY KEY, v text NOT NULL);\n", s)
					fmt.Fprintf(&setup, "INSERT INTO %[1]s.items SELECT i, md5(i::text) FROM generate_series(1, 1000) i;\n", s)
					ctxs[i] = driver.WithSchema(context.Background(), s)
				}
				for _, stmt := range strings.Split(strings.TrimSpace(setup.String()), "\n") { // one a round trip: Citus takes no multi-statement DDL
					admin(b, dsn, stmt)
				}
				db := open(b, dsn)
				db.SetMaxOpenConns(1)
				var v string
				for i := range tenants { // warm: each tenant's statement is prepared once
					if err := db.QueryRowContext(ctxs[i], "SELECT v FROM items WHERE id = $1", 1).Scan(&v); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := range b.N {
					if err := db.QueryRowContext(ctxs[i%tenants], "SELECT v FROM items WHERE id = $1", i%1000+1).Scan(&v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
