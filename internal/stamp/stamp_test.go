package stamp_test

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var (
	setA       = stamp.NewSet(`"a", public, pg_temp`, `"a"`, "", stamp.Options{})
	setB       = stamp.NewSet(`"b", public, pg_temp`, `"b"`, "", stamp.Options{})
	setNone    = stamp.NewSet(`public, pg_temp`, `public`, "", stamp.Options{})
	setMissing = stamp.NewSet(`"missing", public, pg_temp`, `"missing"`, "", stamp.Options{})
)

// setup makes schemas a and b, each with a table t holding its own name, and public.t holding
// "public".
func setup(t *testing.T) string {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, s := range []string{"a", "b", "public"} {
		if _, err := c.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s+`; CREATE TABLE `+s+`.t (v text); INSERT INTO `+s+`.t VALUES ('`+s+`')`); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

// connect opens a pgx connection in mode whose net.Conn is a stamp.Conn, armed with setNone.
func connect(t *testing.T, dsn string, mode pgx.QueryExecMode, opts stamp.Options) (*pgx.Conn, *stamp.Conn) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	var sc *stamp.Conn
	cfg.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, nc net.Conn) (net.Conn, error) {
		sc = stamp.Wrap(nc, opts)
		return sc, nil
	}
	cfg.AfterConnect = func(context.Context, *pgconn.PgConn) error {
		sc.Arm(setNone)
		return nil
	}
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, sc
}

var modes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec,
	pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol,
}

func read(t *testing.T, c *pgx.Conn) string {
	t.Helper()
	var v string
	if err := c.QueryRow(context.Background(), "SELECT v FROM t ORDER BY v LIMIT 1").Scan(&v); err != nil {
		t.Fatalf("read: %v", err)
	}
	return v
}

// TestStampRunsEachStatementInItsSet: every statement runs in the Set current when it was sent,
// whatever the exec mode, whatever SQL before it did to the session's path, inside and outside
// transactions, and a missing schema fails the statement with the server's 3F000.
func TestStampRunsEachStatementInItsSet(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	for _, mode := range modes {
		for _, opts := range []stamp.Options{{}, {Reparse: true}} {
			t.Run(mode.String(), func(t *testing.T) {
				c, sc := connect(t, dsn, mode, opts)
				for i := 0; i < 3; i++ {
					for _, tc := range []struct {
						set  *stamp.Set
						want string
					}{{setA, "a"}, {setB, "b"}, {setNone, "public"}} {
						sc.SetTenant(tc.set)
						if got := read(t, c); got != tc.want {
							t.Fatalf("round %d: read %q, want %q", i, got, tc.want)
						}
					}
				}

				sc.SetTenant(setA)
				if _, err := c.Exec(ctx, "SET search_path = b"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Exec(ctx, "SELECT set_config('search_path', $1, false)", "b"); err != nil {
					t.Fatal(err)
				}
				if got := read(t, c); got != "a" {
					t.Errorf("after a session-level SET: read %q, want a", got)
				}
				// A text that commits, then reads: the read runs outside the set's transaction, in
				// the neutral path, and finds no t at all.
				sc.SetTenant(setB)
				if !opts.Reparse { // behind a pooler, the session's path is left alone
					_, err := c.Exec(ctx, "BEGIN; COMMIT; INSERT INTO t VALUES ('leak')")
					var pgErr *pgconn.PgError
					if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
						t.Errorf("an INSERT after a COMMIT in the text: %v, want 42P01 (no t in the neutral path)", err)
					}
				}

				tx, err := c.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := read(t, c); got != "b" {
					t.Errorf("in a transaction: read %q, want b", got)
				}
				if _, err := tx.Exec(ctx, "SELECT 1/0"); err == nil {
					t.Fatal("1/0 did not fail")
				}
				if err := tx.Rollback(ctx); err != nil {
					t.Fatalf("rollback of a failed transaction: %v", err)
				}
				if st := sc.TxStatus(); st != 'I' {
					t.Errorf("after rollback: status %c", st)
				}

				sc.SetTenant(setMissing)
				_, err = c.Exec(ctx, "INSERT INTO t VALUES ('x')")
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != "3F000" {
					t.Errorf("missing schema: %v, want 3F000", err)
				}
				if se := sc.TakeSetError(); se == nil || se.Code != "3F000" {
					t.Errorf("TakeSetError: %v, want 3F000", se)
				}
				sc.SetTenant(setA)
				if got := read(t, c); got != "a" {
					t.Errorf("after a missing schema: read %q, want a", got)
				}

				var pub int
				if err := c.QueryRow(ctx, "SELECT count(*) FROM public.t").Scan(&pub); err != nil || pub != 1 {
					t.Errorf("public.t: %d rows (%v), want 1: something leaked to public", pub, err)
				}

				// The server drops every prepared statement, pgx's cached ones and the set among
				// them, inside a transaction: both are prepared again before their next use.
				sc.SetTenant(setB)
				tx, err = c.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, "DEALLOCATE ALL"); err != nil {
					t.Fatal(err)
				}
				if got := read(t, c); got != "b" {
					t.Errorf("after DEALLOCATE ALL: read %q, want b", got)
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatalf("commit after DEALLOCATE ALL: %v", err)
				}

				// A batch: each statement is stamped. (In the simple protocol, pgx sends a batch as one
				// text, whose statements share one transaction: the second one's local set lasts.)
				sc.SetTenant(setA)
				b := &pgx.Batch{}
				b.Queue("SELECT v FROM t")
				b.Queue("SELECT set_config('search_path', 'b', true)")
				b.Queue("SELECT v FROM t")
				br := c.SendBatch(ctx, b)
				for i := 0; i < 3; i++ {
					var v string
					if err := br.QueryRow().Scan(&v); err != nil {
						t.Fatalf("batch %d: %v", i, err)
					}
					if i == 0 && v != "a" || i == 2 && mode != pgx.QueryExecModeSimpleProtocol && v != "a" {
						t.Errorf("batch statement %d read %q, want a", i, v)
					}
				}
				if err := br.Close(); err != nil {
					t.Fatal(err)
				}

				// An error's position counts from the caller's text.
				_, err = c.Exec(ctx, "SELECT nosuchcolumn FROM t")
				if !errors.As(err, &pgErr) || pgErr.Position != 8 {
					t.Errorf("error position: %v (%d), want 8", err, pgErr.Position)
				}
			})
		}
	}
}
