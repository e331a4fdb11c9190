package driver_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// roundTrips counts what the server received since the proxy's last reset, less stdlib's pings
// (each one simple Query), and how many of those statements set the search path.
func roundTrips(p *pgtest.Proxy) (trips, sets int) {
	sent := statements(p)
	trips = p.Stats().RoundTrips() - (len(p.Statements()) - len(sent))
	for _, s := range sent {
		if strings.Contains(s, "set_config('search_path'") {
			sets++
		}
	}
	return trips, sets
}

// TestRoundTripsCountedOnTheWire proves, from the messages the server received, that the driver
// costs no round trip, whether a connection stays with one tenant or changes tenant with every
// operation, in every exec mode, against plain pgx stdlib doing the same work: the stamp travels
// with each statement.
func TestRoundTripsCountedOnTheWire(t *testing.T) {
	dsn := tenantDB(t, "a", "b")
	proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	const n = 20
	for _, mode := range execModes {
		t.Run(mode, func(t *testing.T) {
			through := pgtest.WithParams(proxy.DSN(dsn), "default_query_exec_mode", mode)
			pg, err := sql.Open("pgx", pgtest.WithParams(through, "search_path", "a"))
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Close()
			db := open(t, through)
			for _, d := range []*sql.DB{pg, db} {
				d.SetMaxOpenConns(1)
			}
			query := func(d *sql.DB, ctx context.Context) {
				var s string
				if err := d.QueryRowContext(ctx, "SELECT owner FROM items WHERE owner <> $1", "x").Scan(&s); err != nil {
					t.Fatal(err)
				}
				if _, err := d.ExecContext(ctx, "UPDATE items SET owner = owner WHERE owner = $1", "x"); err != nil {
					t.Fatal(err)
				}
			}
			// Warm both: connect, and let each cache mode prepare each tenant's statements.
			for _, ctx := range []context.Context{in("a"), in("b"), none} {
				query(pg, ctx)
				query(db, ctx)
			}

			proxy.Reset()
			for range n {
				query(pg, none)
			}
			base, _ := roundTrips(proxy)

			query(db, in("a"))
			proxy.Reset()
			for range n {
				query(db, in("a"))
			}
			if trips, _ := roundTrips(proxy); trips != base {
				t.Errorf("one tenant: %d round trips for %d operations; plain stdlib: %d", trips, 2*n, base)
			}

			proxy.Reset()
			for i := range n {
				ctx := in("b") // the connection is in a
				if i%2 == 1 {
					ctx = in("a")
				}
				query(db, ctx)
			}
			if trips, _ := roundTrips(proxy); trips != base {
				t.Errorf("alternating tenants: %d round trips for %d operations; plain stdlib: %d", trips, 2*n, base)
			}
		})
	}
}
