package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvPgBouncerDSN names the environment variable with the connection string of a PgBouncer in
// transaction pooling mode in front of the test server, for the tests of the driver's pooler mode.
// .ci/pgbouncer.sh starts one and prints it.
const EnvPgBouncerDSN = "PGSCHEMAS_TEST_PGBOUNCER_DSN"

// PgBouncerHelp says how to provide a PgBouncer; it ends every "no PgBouncer" message.
const PgBouncerHelp = "set " + EnvPgBouncerDSN + " to a PgBouncer with pool_mode=transaction in front of the test server: " +
	`export ` + EnvPgBouncerDSN + `="$(.ci/pgbouncer.sh start)" (it installs Debian's pgbouncer when missing)`

var bouncer struct {
	once sync.Once
	err  error // why the PgBouncer of EnvPgBouncerDSN cannot be used
}

// PgBouncer returns dsn, a database of the test server (from DSN or NewDatabase), rewritten to
// connect through the PgBouncer that PGSCHEMAS_TEST_PGBOUNCER_DSN names: that connection string
// with dsn's database. Without the variable, it skips the test, or fails it under CI=true; a
// PgBouncer that does not answer fails the test.
func PgBouncer(t testing.TB, dsn string) string {
	t.Helper()
	requireServer(t)
	env := os.Getenv(EnvPgBouncerDSN)
	if env == "" {
		msg := "pgtest: no PgBouncer: " + PgBouncerHelp
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the pooler tests must run)")
		}
		t.Skip(msg)
	}
	bouncer.once.Do(func() {
		if err := ping(context.Background(), env); err != nil {
			bouncer.err = fmt.Errorf("pgtest: the PgBouncer of %s does not answer: %w; %s", EnvPgBouncerDSN, err, PgBouncerHelp)
		}
	})
	if bouncer.err != nil {
		t.Fatal(bouncer.err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgtest: PgBouncer: %v", err)
	}
	return WithParams(env, "dbname", cfg.Database)
}
