package driver_test

import (
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestConnectionLostAfterTheStatementIsNotRetried: the connection fails (a proxy severs it) after
// an INSERT reached the server. database/sql runs an operation again on another connection when
// the driver answers driver.ErrBadConn, which is only right when nothing reached the server. pgx
// stdlib answers it here (so that an INSERT that committed runs twice); the driver must instead
// return ErrConnLost, and send the INSERT once. Without arguments the INSERT commits before the
// sever (INSERT; COMMIT; SELECT pg_sleep, in one simple Query), so a retry would write twice.
func TestConnectionLostAfterTheStatementIsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name, driverName string
		pc               poolCase
		args             bool
	}{
		{"pgx stdlib, no arguments", "pgx", poolCases[0], false},
		{"session, no arguments", driver.DriverName, poolCases[0], false},
		{"session, arguments", driver.DriverName, poolCases[0], true},
		{"transaction, no arguments", driver.DriverName, poolCases[1], false},
		{"transaction, arguments", driver.DriverName, poolCases[1], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tenantDB(t, "a")
			proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
			target := proxy.DSN(dsn)
			if tc.driverName == driver.DriverName {
				target = tc.pc.dsn(t, target)
			}
			db, err := sql.Open(tc.driverName, target)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			ctx := in("a")
			if tc.driverName == "pgx" {
				ctx = none
			}
			var sends atomic.Int32
			proxy.SetIntercept(func(typ byte, stmt string) bool {
				if strings.Contains(stmt, "'lost'") && sends.Add(1) == 1 {
					go func() { time.Sleep(100 * time.Millisecond); proxy.Sever() }()
				}
				return true
			})
			q, args := "INSERT INTO a.items VALUES ('lost'); COMMIT; SELECT pg_sleep(0.3)", []any(nil)
			if tc.args {
				q, args = "INSERT INTO a.items SELECT $1 FROM pg_sleep(0.3) WHERE $1 = 'lost'", []any{"lost"}
			}
			_, err = db.ExecContext(ctx, q, args...)
			proxy.SetIntercept(nil)
			time.Sleep(500 * time.Millisecond) // let the server finish what it received
			var n int
			if qerr := db.QueryRow("SELECT count(*) FROM a.items WHERE owner = 'lost'").Scan(&n); qerr != nil {
				t.Fatal(qerr)
			}
			if tc.driverName == "pgx" {
				// The hazard the driver guards against: if this fails, pgx no longer retries, and
				// notRetried may go.
				if err != nil || sends.Load() != 2 || n != 2 {
					t.Errorf("pgx stdlib: error %v, sent %d times, ran %d times; expected its retry: no error, sent and ran twice", err, sends.Load(), n)
				}
				return
			}
			if sends.Load() != 1 || err == nil || n > 1 {
				t.Errorf("error %v, sent %d times, ran %d times; want an error and one send", err, sends.Load(), n)
			}
			if !tc.args && !errors.Is(err, driver.ErrConnLost) {
				t.Errorf("error %v, want ErrConnLost", err)
			}
			wantOwner(t, db, "a", "after the lost connection")
		})
	}
}
