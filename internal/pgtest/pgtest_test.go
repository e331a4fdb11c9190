package pgtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestNewDatabaseIsThrowaway checks what every test package relies on: a database of its own that
// exists during the test and is gone after it.
func TestNewDatabaseIsThrowaway(t *testing.T) {
	ctx := context.Background()
	var name string
	t.Run("inner", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		if dsn == pgtest.DSN(t) {
			t.Fatal("NewDatabase returned the package's database")
		}
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "CREATE TABLE t(x int)"); err != nil {
			t.Fatal(err)
		}
	})
	admin, err := pgx.Connect(ctx, pgtest.AdminDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %q still exists after its test (%d, %v)", name, n, err)
	}
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = current_database()").Scan(&n); err != nil || n != 1 {
		t.Errorf("admin DSN: %v", err)
	}
}

// TestNoServer runs this test binary again against a server that is not there: the tests skip and
// say how to provide one, except under CI=true, where the run fails.
func TestNoServer(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "" {
		t.Skip("child run")
	}
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNewDatabaseIsThrowaway$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "CI="+ci,
			pgtest.EnvDSN+"=postgres://postgres@127.0.0.1:1/none?connect_timeout=2")
		out, err := cmd.CombinedOutput()
		switch {
		case ci == "" && (err != nil || !strings.Contains(string(out), "--- SKIP") || !strings.Contains(string(out), pgtest.EnvDSN)):
			t.Errorf("without CI, no server: %v\n%s\nwant a skip that names %s", err, out, pgtest.EnvDSN)
		case ci == "true" && (err == nil || !strings.Contains(string(out), "CI=true")):
			t.Errorf("with CI=true, no server: %v\n%s\nwant a failure", err, out)
		}
	}
}

// TestPgBouncer checks that a database of the test server is reachable through the PgBouncer of
// PGSCHEMAS_TEST_PGBOUNCER_DSN, and that the PgBouncer pools transactions: two transactions of one
// client land on different server sessions when another client holds the first one.
func TestPgBouncer(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	// Exec mode: pgx's prepared statements do not survive transaction pooling.
	through := pgtest.WithParams(pgtest.PgBouncer(t, dsn), "default_query_exec_mode", "exec")
	a, b := connect(t, through), connect(t, through)
	var name string
	if err := a.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if want, _ := pgx.ParseConfig(dsn); name != want.Database {
		t.Errorf("through PgBouncer: database %q, want %q", name, want.Database)
	}
	pid := func(c *pgx.Conn) (p int) {
		t.Helper()
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := pid(a)
	if _, err := b.Exec(ctx, "BEGIN"); err != nil { // b holds a server session...
		t.Fatal(err)
	}
	held := pid(b)
	second := pid(a) // ... so a's next transaction runs on the other one
	if _, err := b.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if first != held || second == first {
		t.Errorf("server sessions: a ran on %d, b held %d, then a ran on %d: want a moved off the one b held; is pool_mode=transaction?",
			first, held, second)
	}
}
