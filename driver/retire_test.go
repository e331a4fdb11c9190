package driver_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestConnectionRetiredAfterMaxTenants: a connection that has served MaxTenantsPerConn distinct
// schemas is closed rather than used again, for database/sql and pgxpool; until then, it serves
// any schema, those it has seen as many times as asked.
func TestConnectionRetiredAfterMaxTenants(t *testing.T) {
	dsn := pgtest.WithParams(tenantDB(t, "a", "b", "c", "d"), driver.ParamMaxTenantsPerConn, "3")
	const pidSQL = "SELECT pg_backend_pid()"

	t.Run("database/sql", func(t *testing.T) {
		db := open(t, dsn)
		db.SetMaxOpenConns(1)
		pid := func(ctx context.Context) (p int) {
			t.Helper()
			if err := db.QueryRowContext(ctx, pidSQL).Scan(&p); err != nil {
				t.Fatal(err)
			}
			return p
		}
		testRetired(t, func(s string) int { return pid(in(s)) })
	})
	t.Run("pgxpool", func(t *testing.T) {
		pool := openPool(t, dsn, false, oneConn)
		testRetired(t, func(s string) (p int) {
			t.Helper()
			if err := pool.QueryRow(in(s), pidSQL).Scan(&p); err != nil {
				t.Fatal(err)
			}
			return p
		})
	})
	if _, err := driver.ParseConfig("host=h " + driver.ParamMaxTenantsPerConn + "=many"); err == nil {
		t.Error("a max that is not a number: no error")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := driver.ConfigurePool(cfg, driver.PoolOptions{MaxTenantsPerConn: -1}); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

// testRetired reads the backend's pid through pid in each schema, over a pool of one connection:
// a and b, any number of times, then c share a backend; the next operation gets another.
func testRetired(t *testing.T, pid func(schema string) int) {
	first := pid("a")
	for i, s := range []string{"b", "a", "b", "a", "c"} {
		if got := pid(s); got != first {
			t.Fatalf("operation %d, schema %s: backend %d, want %d: retired before serving 3 schemas", i, s, got, first)
		}
	}
	if got := pid("a"); got == first {
		t.Errorf("after a, b and c, backend %s served again: want it retired", fmt.Sprint(got))
	}
	second := pid("d")
	if got := pid("a"); got != second {
		t.Errorf("the new backend %d was retired after 2 schemas, then %d", second, got)
	}
}
