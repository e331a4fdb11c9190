package pgtest_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestClusterRestartAndRemove: a throwaway cluster serves on its DSN, keeps a committed row over an
// immediate (crash) restart on the same port, and leaves nothing behind once removed.
func TestClusterRestartAndRemove(t *testing.T) {
	ctx := context.Background()
	c := pgtest.NewCluster(t)
	count := func() (n int) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		// The cluster runs with synchronous_commit off; this session's commits reach the WAL
		// before they return, so that they survive the crash.
		if _, err := conn.Exec(ctx, "SET synchronous_commit = on; CREATE TABLE IF NOT EXISTS kept (n int)"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT count(*)::int FROM kept").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if _, err := conn.Exec(ctx, "INSERT INTO kept VALUES (1)"); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	count()
	before := c.PID()
	if err := c.Restart(ctx, "immediate"); err != nil {
		t.Fatal(err)
	}
	if after := c.PID(); after == 0 || after == before {
		t.Errorf("postmaster %d before the restart, %d after; want a new one", before, after)
	}
	if n := count(); n != 1 {
		t.Errorf("%d rows after the crash restart, want the 1 committed", n)
	}
	if err := c.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Error("the server still runs after Remove")
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is still there after Remove (%v)", c.Dir, err)
	}
	if err := c.Remove(ctx); err != nil { // NewCluster's cleanup removes it again
		t.Errorf("a second Remove: %v", err)
	}
}
