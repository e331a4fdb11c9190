package driver_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestAttackLoadWithKilledBackends runs the isolation load of TestIsolationUnderLoad (32
// goroutines over a pool of 4, 8 tenants and public, statements, transactions, the shared
// prepared statements, cancelled queries) while a backend of the database is
// terminated every 50 ms: in the default mode and strict mode on direct connections, and in the
// pooler mode behind PgBouncer in transaction pooling. No operation may read or write another
// schema's rows, none may fail but on a lost connection or an ended context, every committed row
// must be where it belongs, the pool must recover, and PgBouncer must still be up and answering at
// the end: PgBouncer 1.18 can exit on the cancel request that pgx sends when it closes a
// connection whose context ended (pgbouncer/pgbouncer#822).
func TestAttackLoadWithKilledBackends(t *testing.T) {
	d := 4 * time.Second
	if raceEnabled || testing.Short() {
		d = 2 * time.Second
	}
	timeout := func(t testing.TB, dsn string) string { return pgtest.WithParams(dsn, "connect_timeout", "5") }
	for _, r := range []isoRun{
		{name: "default", dsn: timeout, cancelShare: 0.05},
		{name: "strict", dsn: timeout, strict: true, cancelShare: 0.05},
		// Half the operations are cancelled: each cancellation that closes a connection whose query
		// runs gives PgBouncer a cancel request to forward while its server connections are killed.
		{name: "pooler_pgbouncer", cancelShare: 0.5, dsn: func(t testing.TB, dsn string) string {
			return timeout(t, poolCases[2].dsn(t, dsn))
		}},
	} {
		r.conns, r.kill, r.killEvery, r.duration = 4, true, 50*time.Millisecond, d
		t.Run("mode="+r.name, func(t *testing.T) {
			l := runIsoLoad(t, r)
			l.wantClean(t)
			if r.name == "pooler_pgbouncer" {
				wantPgBouncerUp(t)
			}
		})
	}
}

// wantPgBouncerUp fails the test unless the PgBouncer of pgtest.EnvPgBouncerDSN answers a query.
func wantPgBouncerUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, os.Getenv(pgtest.EnvPgBouncerDSN))
	if err == nil {
		defer c.Close(ctx)
		err = c.Ping(ctx) // an empty simple Query: no prepared statement, which PgBouncer 1.18 does not track
	}
	if err != nil {
		t.Errorf("PgBouncer after the load: %v; want it up and answering (pgbouncer/pgbouncer#822: it exits on a "+
			"cancel request that meets a terminated server connection)", err)
	}
}
