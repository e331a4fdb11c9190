// Package pgtest gives each test package, and each test that asks, a throwaway PostgreSQL database
// of its own, and drops it afterwards.
//
// The server comes from, in this order:
//  1. PGSCHEMAS_TEST_DSN, a connection string pgx accepts (a database it names is only used to connect);
//  2. the local server: the libpq environment (PGHOST, PGPORT, PGUSER, ...) when any of it is set,
//     else postgres://postgres@127.0.0.1:5432;
//  3. a PostgreSQL container started with testcontainers-go, where a Docker engine is reachable.
//
// With CI=true a missing server fails the run; elsewhere the tests that need it skip, with a message
// that says how to provide one.
//
// A package uses it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and then DSN(t) in each test, or NewDatabase(t) for a database of the test's own.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// EnvDSN names the environment variable that selects the test server.
const EnvDSN = "PGSCHEMAS_TEST_DSN"

// Help says how to provide a server; it ends every "no server" message.
const Help = "set " + EnvDSN + " to a PostgreSQL connection string, start a local server on 127.0.0.1:5432 " +
	"(on Debian: pg_ctlcluster 15 main start), or run a Docker engine for testcontainers"

// state is the package's server and database, set once by Main.
var state struct {
	once     sync.Once
	adminDSN string // connects to the server's maintenance database
	dsn      string // the package's own throwaway database
	err      error  // why there is no server
}

// Main runs the package's tests with a throwaway database, and returns the exit code for os.Exit.
// Under CI=true a missing server makes it return 1 without running any test.
func Main(m *testing.M) int {
	ctx := context.Background()
	admin, stop, err := findServer(ctx)
	if err != nil {
		state.err = err
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "pgtest: CI=true and %v\n", err)
			return 1
		}
		// Tests skip through DSN; examples cannot skip, and their output needs the server.
		flag.Parse()
		if f := flag.Lookup("test.skip"); f != nil && f.Value.String() == "" {
			fmt.Fprintf(os.Stderr, "pgtest: skipping examples: %v\n", err)
			_ = f.Value.Set("^Example")
		}
		return m.Run()
	}
	defer stop()
	state.adminDSN = admin
	name, err := createDatabase(ctx, admin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	state.dsn = withDatabase(admin, name)
	code := m.Run()
	if err := dropDatabase(ctx, admin, name); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// DSN returns the connection string of the package's throwaway database. Without a server it skips
// the test (fails it under CI=true). It fails the test when the package's TestMain does not call Main.
func DSN(t testing.TB) string {
	t.Helper()
	requireServer(t)
	return state.dsn
}

// ExampleDSN returns the package's throwaway database for Example functions, which have no
// testing.TB. Main skips the examples when there is no server.
func ExampleDSN() string { return state.dsn }

// AdminDSN returns a connection string to the server's maintenance database, for tests that
// manage databases or sessions themselves.
func AdminDSN(t testing.TB) string {
	t.Helper()
	requireServer(t)
	return state.adminDSN
}

// NewDatabase creates a throwaway database for one test and drops it when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	requireServer(t)
	ctx := context.Background()
	name, err := createDatabase(ctx, state.adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(context.Background(), state.adminDSN, name); err != nil {
			t.Error(err)
		}
	})
	return withDatabase(state.adminDSN, name)
}

func requireServer(t testing.TB) {
	t.Helper()
	switch {
	case state.err != nil && os.Getenv("CI") == "true":
		t.Fatalf("pgtest: %v", state.err)
	case state.err != nil:
		t.Skipf("pgtest: %v", state.err)
	case state.adminDSN == "":
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main")
	}
}

// findServer returns the admin DSN of the first server that answers, and a func that releases it.
func findServer(ctx context.Context) (string, func(), error) {
	noop := func() {}
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		if err := ping(ctx, dsn); err != nil {
			return "", noop, fmt.Errorf("no PostgreSQL server at %s (%w); fix it or unset it to use the local server", EnvDSN, err)
		}
		return dsn, noop, nil
	}
	local := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	for _, v := range []string{"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE"} {
		if os.Getenv(v) != "" {
			local = "" // pgx reads the libpq environment for an empty connection string
			break
		}
	}
	localErr := ping(ctx, local)
	if localErr == nil {
		return local, noop, nil
	}
	dsn, stop, dockerErr := startContainer(ctx)
	if dockerErr == nil {
		return dsn, stop, nil
	}
	return "", noop, fmt.Errorf("no PostgreSQL server: %s unset; local server: %v; testcontainers: %v; %s",
		EnvDSN, localErr, dockerErr, Help)
}

func startContainer(ctx context.Context) (string, func(), error) {
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			return "", nil, errors.New("no Docker engine (DOCKER_HOST unset, no /var/run/docker.sock)")
		}
	}
	ctr, err := tcpostgres.Run(ctx, "postgres:15-alpine",
		tcpostgres.WithDatabase("postgres"), tcpostgres.WithUsername("postgres"),
		tcpostgres.WithPassword("postgres"), tcpostgres.BasicWaitStrategies())
	if err != nil {
		return "", nil, err
	}
	stop := func() { _ = testcontainers.TerminateContainer(ctr) }
	dsn, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		stop()
		return "", nil, err
	}
	return dsn, stop, nil
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func createDatabase(ctx context.Context, admin string) (string, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "pgschemas_test_" + hex.EncodeToString(b[:])
	if err := adminExec(ctx, admin, time.Minute, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create throwaway database %s: %w", name, err)
	}
	return name, nil
}

func dropDatabase(ctx context.Context, admin, name string) error {
	// A database of 10,000 tenants (400,000 relation files to unlink) takes minutes to drop.
	if err := adminExec(ctx, admin, 15*time.Minute, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop throwaway database %s: %w", name, err)
	}
	return nil
}

func adminExec(ctx context.Context, admin string, timeout time.Duration, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) string { return WithParams(dsn, "dbname", name) }
