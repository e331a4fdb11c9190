package driver_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// itemsSetup returns admin SQL that gives each tenant items(id bigserial primary key, owner, v)
// with 10 rows, for the round-trip and load-like tests.
func itemsSetup(tenants []string) string {
	var b strings.Builder
	for _, s := range tenants {
		fmt.Fprintf(&b, `CREATE SCHEMA %[1]s;
			CREATE TABLE %[1]s.items (id bigserial PRIMARY KEY, owner text NOT NULL, v int);
			INSERT INTO %[1]s.items (owner, v) SELECT %[2]s, g FROM generate_series(1, 10) g;
		`, pgx.Identifier{s}.Sanitize(), quoteLiteral(s))
	}
	return b.String()
}

// TestAttackRoundTrips counts, through pgtest's wire proxy, the round trips of a SELECT by
// primary key and of an INSERT with arguments, on a pool of one connection whose caches are
// warm (each tenant served twice before): exactly one per operation, at one tenant and at 100
// tenants chosen at random, in every mode. A tenant switch must not cost a round trip of its own.
func TestAttackRoundTrips(t *testing.T) {
	const ops = 100
	eachAttackMode(t, func(t *testing.T, m attackMode) {
		e := newAttackEnv(t, m, 100, itemsSetup)
		proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, e.app))
		for _, n := range []int{1, 100} {
			t.Run(fmt.Sprintf("tenants=%d", n), func(t *testing.T) {
				c := e.open(t, proxy.DSN(e.app), 1)
				rng := rand.New(rand.NewPCG(uint64(n), 14))
				for _, op := range []struct {
					name string
					run  func(tenant string, i int) error
				}{
					{"select by primary key", func(s string, i int) error {
						owners, err := c.texts(in(s), "SELECT owner FROM items WHERE id = $1", int64(i%10+1))
						if err == nil && (len(owners) != 1 || owners[0] != s) {
							err = fmt.Errorf("read %q, want %s's row", owners, s)
						}
						return err
					}},
					{"insert with arguments", func(s string, i int) error {
						return c.exec(in(s), "INSERT INTO items (owner, v) VALUES ($1, $2)", s, i)
					}},
				} {
					for i := range 2 * n { // warm: every tenant served twice
						if err := op.run(e.tenants[i%n], i); err != nil {
							t.Fatalf("%s, warm-up: %v", op.name, err)
						}
					}
					proxy.Reset()
					for i := range ops {
						if err := op.run(e.tenants[rng.IntN(n)], i); err != nil {
							t.Fatalf("%s: %v", op.name, err)
						}
					}
					if trips, _ := roundTrips(proxy); trips != ops {
						t.Errorf("%s: %.2f round trips per operation (%d for %d), want exactly 1.00",
							op.name, float64(trips)/ops, trips, ops)
					}
				}
			})
		}
	})
}
