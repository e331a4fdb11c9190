package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// tenantDB makes a throwaway database in which public and each named schema have
// items(owner text), seeded with one row whose owner is the schema's name, and returns its DSN.
func tenantDB(t *testing.T, schemas ...string) string {
	t.Helper()
	dsn := newDatabase(t)
	ddl := "CREATE TABLE public.items(owner text NOT NULL); INSERT INTO public.items VALUES ('public');"
	for _, s := range schemas {
		ddl += fmt.Sprintf(`CREATE SCHEMA %[1]q; CREATE TABLE %[1]q.items(owner text NOT NULL); INSERT INTO %[1]q.items VALUES (%[2]s);`,
			s, "'"+s+"'")
	}
	admin(t, dsn, ddl)
	return dsn
}

// admin runs SQL outside the driver, on a connection of its own.
func admin(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("admin %q: %v", sql, err)
	}
}

func open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver.DriverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryRower is what *sql.DB, *sql.Conn, *sql.Tx and friends share.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// owner reads items.owner through q with ctx: the name of the schema the statement resolved in.
func owner(t *testing.T, q queryRower, ctx context.Context) string {
	t.Helper()
	var got string
	if err := q.QueryRowContext(ctx, "SELECT owner FROM items").Scan(&got); err != nil {
		t.Fatalf("SELECT owner FROM items: %v", err)
	}
	return got
}

// stdlibPing is the statement of pgx stdlib's liveness ping, which database/sql's ResetSession
// sends on a connection idle for over a second: not the cost of any operation under test.
const stdlibPing = "-- ping"

// statements returns what the proxy saw since its last reset, less stdlib's pings.
func statements(p *pgtest.Proxy) []string {
	var out []string
	for _, s := range p.Statements() {
		if !strings.HasSuffix(s, stdlibPing) { // pgx stdlib's ResetSession pings, stamped
			out = append(out, s)
		}
	}
	return out
}

// wantOwner checks that a read through q with schema's context resolves in schema.
func wantOwner(t *testing.T, q queryRower, schema, when string) {
	t.Helper()
	if got := owner(t, q, in(schema)); got != schema {
		t.Errorf("%s: a read for %s saw %s's rows", when, schema, got)
	}
}

func in(schema string) context.Context { return driver.WithSchema(context.Background(), schema) }

var none = context.Background()

func TestEveryOperationRunsInTheContextSchema(t *testing.T) {
	eachPoolCase(t, poolCases, testEveryOperationRunsInTheContextSchema)
}

func testEveryOperationRunsInTheContextSchema(t *testing.T, pc poolCase) {
	dsn := tenantDB(t, "a", "Acme")
	db := open(t, pgtest.WithParams(pc.dsn(t, dsn), driver.ParamExtraSearchPaths, "ext"))
	admin(t, dsn, "CREATE SCHEMA ext")
	db.SetMaxOpenConns(1) // one connection, so each operation follows another tenant's

	t.Run("query and search path", func(t *testing.T) {
		for _, tc := range []struct {
			ctx         context.Context
			owner, path string
		}{
			{in("a"), "a", `"a", public, "ext", pg_temp`},
			{in("Acme"), "Acme", `"Acme", public, "ext", pg_temp`},
			{none, "public", `public, "ext", pg_temp`},
			{in("a"), "a", `"a", public, "ext", pg_temp`},
		} {
			var path string
			if err := db.QueryRowContext(tc.ctx, "SHOW search_path").Scan(&path); err != nil {
				t.Fatal(err)
			}
			if got := owner(t, db, tc.ctx); got != tc.owner || path != tc.path {
				t.Errorf("got owner %q path %q, want %q and %q", got, path, tc.owner, tc.path)
			}
		}
	})

	t.Run("exec", func(t *testing.T) {
		for _, s := range []string{"a", "Acme"} {
			if _, err := db.ExecContext(in(s), "INSERT INTO items VALUES ($1)", "exec-"+s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(none, "INSERT INTO items VALUES ($1)", "exec-public"); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"a", "Acme", "public"} {
			var n int
			q := fmt.Sprintf(`SELECT count(*) FROM %q.items WHERE owner = 'exec-' || $1`, s)
			if err := db.QueryRowContext(none, q, s).Scan(&n); err != nil || n != 1 {
				t.Errorf("%s: %d rows written there (%v), want 1", s, n, err)
			}
		}
	})

	t.Run("prepared statement follows each execution's context", func(t *testing.T) {
		st, err := db.PrepareContext(in("a"), "SELECT owner FROM items LIMIT 1")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, want := range []string{"Acme", "public", "a", "Acme"} {
			ctx := none
			if want != "public" {
				ctx = in(want)
			}
			var got string
			if err := st.QueryRowContext(ctx).Scan(&got); err != nil || got != want {
				t.Errorf("Stmt.QueryRowContext: got %q (%v), want %q", got, err, want)
			}
		}
		ins, err := db.PrepareContext(none, "INSERT INTO items VALUES ($1)")
		if err != nil {
			t.Fatal(err)
		}
		defer ins.Close()
		if _, err := ins.ExecContext(in("Acme"), "stmt-exec"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(none, `SELECT count(*) FROM "Acme".items WHERE owner = 'stmt-exec'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("Stmt.ExecContext wrote %d rows into Acme (%v), want 1", n, err)
		}
	})

	t.Run("prepare checks the SQL in the context schema", func(t *testing.T) {
		admin(t, dsn, "CREATE TABLE a.only_in_a(x int)")
		if _, err := db.PrepareContext(in("Acme"), "SELECT x FROM only_in_a"); err == nil {
			t.Error("prepare in Acme of a table that only a has: no error")
		}
		st, err := db.PrepareContext(in("a"), "SELECT x FROM only_in_a")
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	})

	t.Run("transaction", func(t *testing.T) {
		tx, err := db.BeginTx(in("Acme"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if got := owner(t, tx, none); got != "Acme" {
			t.Errorf("in a transaction begun for Acme, a context without schema read %q", got)
		}
		wantOwner(t, tx, "Acme", "in Acme's transaction")
	})

	t.Run("conn with other contexts", func(t *testing.T) {
		c, err := db.Conn(in("a"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, want := range []string{"Acme", "public", "a"} {
			ctx := none
			if want != "public" {
				ctx = in(want)
			}
			if got := owner(t, c, ctx); got != want {
				t.Errorf("sql.Conn: got %q, want %q", got, want)
			}
		}
	})

	t.Run("pgx arguments pass through", func(t *testing.T) {
		var got string
		err := db.QueryRowContext(in("Acme"), "SELECT owner FROM items WHERE owner = @owner", pgx.NamedArgs{"owner": "Acme"}).Scan(&got)
		if err != nil || got != "Acme" {
			t.Errorf("pgx.NamedArgs: got %q (%v), want Acme", got, err)
		}
		err = db.QueryRowContext(in("a"), "SELECT owner FROM items WHERE owner = $1", pgx.QueryExecModeSimpleProtocol, "a").Scan(&got)
		if err != nil || got != "a" {
			t.Errorf("a leading pgx.QueryExecMode: got %q (%v), want a", got, err)
		}
	})

	t.Run("ping", func(t *testing.T) {
		if err := db.PingContext(in("Acme")); err != nil {
			t.Errorf("ping Acme: %v", err)
		}
		if err := db.PingContext(in("missing")); !errors.Is(err, driver.ErrSchemaNotFound) {
			t.Errorf("ping of a missing schema: %v, want ErrSchemaNotFound", err)
		}
	})
}

func TestSchemaNameValidation(t *testing.T) {
	valid := []string{"a", "_", "Acme", "t0", "_x9", strings.Repeat("a", 63), "pgx", "publicity"}
	for _, name := range valid {
		if err := driver.CheckSchemaName(name); err != nil {
			t.Errorf("CheckSchemaName(%q) = %v, want nil", name, err)
		}
	}
	invalid := []string{"", "x; DROP TABLE t", `"x"`, "x,public", "x public", "1abc", "a-b", "ä", "a\x00",
		strings.Repeat("a", 64), "pg_temp", "PG_x", "public", "PUBLIC", "Public", `x"; DROP TABLE items; --`}
	for _, name := range invalid {
		err := driver.CheckSchemaName(name)
		if !errors.Is(err, driver.ErrInvalidSchemaName) {
			t.Errorf("CheckSchemaName(%q) = %v, want ErrInvalidSchemaName", name, err)
		}
	}
}

func TestInvalidSchemaFailsBeforeAnythingIsSent(t *testing.T) {
	eachPoolCase(t, poolCases, func(t *testing.T, pc poolCase) {
		dsn := pc.dsn(t, tenantDB(t, "a"))
		testInvalidSchemaFailsBeforeAnythingIsSent(t, dsn)
	})
}

func testInvalidSchemaFailsBeforeAnythingIsSent(t *testing.T, dsn string) {
	proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	db := open(t, proxy.DSN(dsn))
	db.SetMaxOpenConns(1)
	if got := owner(t, db, in("a")); got != "a" { // connect and warm up
		t.Fatalf("got %q", got)
	}
	for _, name := range []string{"", "x; DROP TABLE items", `"x"`, "x,public", "pg_catalog", "public"} {
		proxy.Reset()
		ctx := in(name)
		var s string
		errs := []error{
			db.QueryRowContext(ctx, "SELECT owner FROM items").Scan(&s),
			func() error { _, err := db.ExecContext(ctx, "DELETE FROM items"); return err }(),
			func() error { _, err := db.PrepareContext(ctx, "SELECT 1"); return err }(),
			func() error { _, err := db.BeginTx(ctx, nil); return err }(),
			db.PingContext(ctx),
		}
		for i, err := range errs {
			var se *driver.SchemaError
			if !errors.Is(err, driver.ErrInvalidSchemaName) || !errors.As(err, &se) || se.Schema != name {
				t.Errorf("schema %q, operation %d: %v, want a *SchemaError for it wrapping ErrInvalidSchemaName", name, i, err)
			}
		}
		if sent := statements(proxy); len(sent) != 0 {
			t.Errorf("schema %q: statements reached the server: %q, want none", name, sent)
		}
	}
	var n int
	if err := db.QueryRowContext(in("a"), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1 {
		t.Errorf("a.items has %d rows (%v), want 1", n, err)
	}
}

func TestMissingSchemaNeverFallsThroughToPublic(t *testing.T) {
	eachPoolCase(t, poolCases, func(t *testing.T, pc poolCase) {
		testMissingSchemaNeverFallsThroughToPublic(t, pc.dsn(t, tenantDB(t, "a")))
	})
}

func testMissingSchemaNeverFallsThroughToPublic(t *testing.T, dsn string) {
	db := open(t, dsn)
	db.SetMaxOpenConns(1)
	for _, prev := range []context.Context{none, in("a")} {
		owner(t, db, prev) // the connection's path is now prev's
		var s string
		err := db.QueryRowContext(in("missing"), "SELECT owner FROM items").Scan(&s)
		var se *driver.SchemaError
		if !errors.Is(err, driver.ErrSchemaNotFound) || !errors.As(err, &se) || se.Schema != "missing" {
			t.Fatalf("query in a missing schema: %v (read %q), want ErrSchemaNotFound", err, s)
		}
		if _, err := db.ExecContext(in("missing"), "INSERT INTO items VALUES ('intruder')"); !errors.Is(err, driver.ErrSchemaNotFound) {
			t.Fatalf("insert in a missing schema: %v, want ErrSchemaNotFound", err)
		}
		if _, err := db.BeginTx(in("missing"), nil); !errors.Is(err, driver.ErrSchemaNotFound) {
			t.Fatalf("begin in a missing schema: %v, want ErrSchemaNotFound", err)
		}
		if _, err := db.PrepareContext(in("missing"), "SELECT owner FROM items"); !errors.Is(err, driver.ErrSchemaNotFound) {
			t.Fatalf("prepare in a missing schema: %v, want ErrSchemaNotFound", err)
		}
	}
	var n int
	if err := db.QueryRowContext(none, "SELECT count(*) FROM public.items WHERE owner = 'intruder'").Scan(&n); err != nil || n != 0 {
		t.Errorf("public.items got %d intruder rows (%v), want 0", n, err)
	}
	// The failed attempts left the connection usable, in the right schema.
	wantOwner(t, db, "a", "after the failures")
}

func TestTransactionIsBoundToItsSchema(t *testing.T) {
	eachPoolCase(t, poolCases, func(t *testing.T, pc poolCase) {
		testTransactionIsBoundToItsSchema(t, pc.dsn(t, tenantDB(t, "a", "b")))
	})
}

func testTransactionIsBoundToItsSchema(t *testing.T, dsn string) {
	db := open(t, dsn)
	db.SetMaxOpenConns(1)
	ctx := context.Background()

	tx, err := db.BeginTx(in("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(in("b"), "INSERT INTO items VALUES ('mismatch')")
	var se *driver.SchemaError
	if !errors.Is(err, driver.ErrSchemaMismatch) || !errors.As(err, &se) || se.Schema != "b" {
		t.Fatalf("statement for b in a's transaction: %v, want ErrSchemaMismatch naming b", err)
	}
	if !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("the mismatch error %q does not name the transaction's schema", err)
	}
	// Nothing ran, and the transaction is still usable.
	if _, err := tx.ExecContext(ctx, "INSERT INTO items VALUES ('in-tx')"); err != nil {
		t.Fatalf("statement without a schema after the mismatch: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]int{"a": 1, "b": 0} {
		var n int
		q := fmt.Sprintf("SELECT count(*) FROM %s.items WHERE owner IN ('mismatch', 'in-tx')", s)
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", s, n, err, want)
		}
	}

	// A transaction without a schema refuses a tenant's context too.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(in("a"), "SELECT 1"); !errors.Is(err, driver.ErrSchemaMismatch) {
		t.Errorf("tenant statement in a transaction without schema: %v, want ErrSchemaMismatch", err)
	}
	if got := owner(t, tx, ctx); got != "public" {
		t.Errorf("got %q, want public", got)
	}
	tx.Rollback()
}

// TestRollbackNeverLeavesAStalePath covers the ways a rollback can undo a search path that a
// driver remembered: django-pgschemas' savepoint bug, and the same with a whole transaction.
func TestRollbackNeverLeavesAStalePath(t *testing.T) {
	eachPoolCase(t, poolCases, func(t *testing.T, pc poolCase) {
		testRollbackNeverLeavesAStalePath(t, pc.dsn(t, tenantDB(t, "a", "b")))
	})
}

func testRollbackNeverLeavesAStalePath(t *testing.T, dsn string) {
	db := open(t, dsn)

	conn := func(t *testing.T) *sql.Conn {
		c, err := db.Conn(none)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	exec := func(t *testing.T, c *sql.Conn, ctx context.Context, q string) {
		t.Helper()
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	t.Run("rollback to savepoint undoes the driver's SET", func(t *testing.T) {
		c := conn(t)
		exec(t, c, none, "BEGIN") // a transaction the driver does not know about
		exec(t, c, none, "SAVEPOINT s")
		if got := owner(t, c, in("a")); got != "a" { // the driver sets a's path inside the savepoint
			t.Fatalf("got %q", got)
		}
		exec(t, c, in("a"), "ROLLBACK TO SAVEPOINT s") // undoes that SET on the server
		wantOwner(t, c, "a", "after ROLLBACK TO SAVEPOINT")
		exec(t, c, none, "ROLLBACK")
	})

	t.Run("rollback undoes the driver's SET", func(t *testing.T) {
		c := conn(t)
		exec(t, c, none, "BEGIN")
		wantOwner(t, c, "b", "inside BEGIN")
		exec(t, c, in("b"), "ROLLBACK")
		wantOwner(t, c, "b", "after ROLLBACK")
	})

	t.Run("SET search_path in user SQL", func(t *testing.T) {
		db.SetMaxOpenConns(1)
		defer db.SetMaxOpenConns(0)
		tx, err := db.BeginTx(in("a"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(none, "SET LOCAL search_path TO b"); err != nil {
			t.Fatal(err)
		}
		if got := owner(t, tx, none); got != "a" {
			t.Errorf("in a's transaction after the user's SET, read %q", got)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(in("a"), "SELECT set_config('search_path', 'b', false)"); err != nil {
			t.Fatal(err)
		}
		wantOwner(t, db, "a", "after the user's set_config")
		if _, err := db.ExecContext(in("b"), "RESET ALL"); err != nil {
			t.Fatal(err)
		}
		wantOwner(t, db, "b", "after RESET ALL")
	})
}

// TestStatementCachesNeverCrossSchemas alternates one SQL text between two schemas whose
// items.v differ in type, on one connection, in every exec mode a DSN can select.
func TestStatementCachesNeverCrossSchemas(t *testing.T) {
	eachPoolCase(t, poolCases, testStatementCachesNeverCrossSchemas)
}

func testStatementCachesNeverCrossSchemas(t *testing.T, pc poolCase) {
	dsn := newDatabase(t)
	admin(t, dsn, `
		CREATE SCHEMA s_int;  CREATE TABLE s_int.items(v int);   INSERT INTO s_int.items VALUES (42);
		CREATE SCHEMA s_text; CREATE TABLE s_text.items(v text); INSERT INTO s_text.items VALUES ('forty-two');
		CREATE TABLE public.items(v bool); INSERT INTO public.items VALUES (true);`)
	want := map[string]any{"s_int": int64(42), "s_text": "forty-two", "": true}
	param := map[string]any{"s_int": 42, "s_text": "forty-two", "": true}
	ctxOf := func(s string) context.Context {
		if s == "" {
			return none
		}
		return in(s)
	}
	for _, mode := range execModes {
		t.Run(mode, func(t *testing.T) {
			db := open(t, pgtest.WithParams(pc.dsn(t, dsn), "default_query_exec_mode", mode))
			db.SetMaxOpenConns(1)
			st, err := db.PrepareContext(none, "SELECT v FROM items WHERE v = $1")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for i := 0; i < 6; i++ {
				for _, s := range []string{"s_int", "s_text", ""} {
					ctx := ctxOf(s)
					var got any
					check := func(how string, err error) {
						t.Helper()
						if err != nil || got != want[s] {
							t.Fatalf("round %d, schema %q, %s: got %v (%T), err %v; want %v (%T)", i, s, how, got, got, err, want[s], want[s])
						}
						got = nil
					}
					check("query", db.QueryRowContext(ctx, "SELECT v FROM items").Scan(&got))
					check("query with argument", db.QueryRowContext(ctx, "SELECT v FROM items WHERE v = $1", param[s]).Scan(&got))
					check("prepared statement", st.QueryRowContext(ctx, param[s]).Scan(&got))
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						t.Fatal(err)
					}
					check("in a transaction", tx.QueryRowContext(none, "SELECT v FROM items").Scan(&got))
					if err := tx.Rollback(); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// TestFailedSetLeavesThePathUnknown makes the driver's SET fail half-way, by locking the catalog
// it reads, and checks that the statement after it did not run and that the connection is never
// used as if the SET had happened.
func TestFailedSetLeavesThePathUnknown(t *testing.T) {
	// Direct connections only: a timeout set for the session does not reach a pooler's sessions.
	eachPoolCase(t, poolCases[:2], testFailedSetLeavesThePathUnknown)
}

func testFailedSetLeavesThePathUnknown(t *testing.T, pc poolCase) {
	dsn := tenantDB(t, "a", "b")

	for _, tc := range []struct {
		setting, sqlstate, says string
	}{
		{"statement_timeout", "57014", "statement timeout"},
		{"lock_timeout", "55P03", "lock timeout"},
	} {
		t.Run(tc.setting+": the statement does not run, the connection lives and is set again", func(t *testing.T) {
			db := open(t, pgtest.WithParams(pc.dsn(t, dsn), tc.setting, "200"))
			db.SetMaxOpenConns(1)
			wantOwner(t, db, "a", "setup")
			unlock := lockCatalog(t, dsn)
			_, err := db.ExecContext(in("b"), "INSERT INTO items VALUES ('after a failed set')")
			unlock()
			var se *driver.SchemaError
			var pgErr *pgconn.PgError
			if !errors.As(err, &se) || se.Schema != "b" || !errors.As(err, &pgErr) || pgErr.Code != tc.sqlstate {
				t.Fatalf("SET under a locked catalog: %v, want a *SchemaError for b with SQLSTATE %s (%s)", err, tc.sqlstate, tc.says)
			}
			wantOwner(t, db, "b", "after the failed SET")
			wantOwner(t, db, "a", "after the failed SET")
			if n := db.Stats().OpenConnections; n != 1 {
				t.Errorf("%d connections open, want the same 1", n)
			}
			var n int
			err = db.QueryRowContext(none, "SELECT (SELECT count(*) FROM a.items) + (SELECT count(*) FROM b.items) + (SELECT count(*) FROM public.items)").Scan(&n)
			if err != nil || n != 3 {
				t.Errorf("%d rows in a, b and public (%v), want their 3 seeds: the statement after the failed SET ran", n, err)
			}
		})
	}

	t.Run("cancelled context: the connection is discarded", func(t *testing.T) {
		db := open(t, pc.dsn(t, dsn))
		db.SetMaxOpenConns(1)
		wantOwner(t, db, "a", "setup")
		unlock := lockCatalog(t, dsn)
		cctx, cancel := context.WithTimeout(in("b"), 200*time.Millisecond)
		var s string
		err := db.QueryRowContext(cctx, "SELECT owner FROM items").Scan(&s)
		cancel()
		unlock()
		if err == nil {
			t.Fatalf("SET under a locked catalog with a 200ms context: no error (read %q)", s)
		}
		wantOwner(t, db, "b", "after the cancelled SET")
		wantOwner(t, db, "a", "after the cancelled SET")
	})
}

func TestContextDoneBeforeTheSet(t *testing.T) {
	eachPoolCase(t, poolCases, func(t *testing.T, pc poolCase) {
		testContextDoneBeforeTheSet(t, pc.dsn(t, tenantDB(t, "a", "b")))
	})
}

func testContextDoneBeforeTheSet(t *testing.T, dsn string) {
	db := open(t, dsn)
	c, err := db.Conn(in("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantOwner(t, c, "a", "setup")
	ctx, cancel := context.WithCancel(in("b"))
	cancel()
	var s string
	if err := c.QueryRowContext(ctx, "SELECT owner FROM items").Scan(&s); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v, want context.Canceled", err)
	}
	// Nothing was sent: the connection is still good, and still knows its path.
	wantOwner(t, c, "a", "after the cancelled context")
	wantOwner(t, c, "b", "after the cancelled context")
}

func TestRawConnReachesPgxInTheContextSchema(t *testing.T) {
	eachPoolCase(t, poolCases, func(t *testing.T, pc poolCase) {
		dsn := tenantDB(t, "a", "b")
		testRawConnReachesPgxInTheContextSchema(t, dsn, pc.dsn(t, dsn))
	})
}

func testRawConnReachesPgxInTheContextSchema(t *testing.T, dsn, through string) {
	db := open(t, through)
	db.SetMaxOpenConns(1)
	c, err := db.Conn(none)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = driver.RawConn(in("b"), c, func(pc *pgx.Conn) error {
		_, err := pc.CopyFrom(context.Background(), pgx.Identifier{"items"}, []string{"owner"},
			pgx.CopyFromRows([][]any{{"copied"}, {"copied"}}))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRowContext(in("b"), "SELECT count(*) FROM items WHERE owner = 'copied'").Scan(&n); err != nil || n != 2 {
		t.Errorf("b got %d copied rows (%v), want 2", n, err)
	}
	if err := c.QueryRowContext(none, "SELECT count(*) FROM a.items WHERE owner = 'copied'").Scan(&n); err != nil || n != 0 {
		t.Errorf("a got %d copied rows (%v), want 0", n, err)
	}
	// fn may change the session; the driver sets the path again afterwards.
	err = driver.RawConn(in("b"), c, func(pc *pgx.Conn) error {
		_, err := pc.Exec(context.Background(), "SET search_path TO a")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOwner(t, c, "b", "after RawConn changed the path")
	if err := driver.RawConn(in("missing"), c, func(*pgx.Conn) error { return nil }); !errors.Is(err, driver.ErrSchemaNotFound) {
		t.Errorf("RawConn for a missing schema: %v, want ErrSchemaNotFound", err)
	}

	plain, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pc, err := plain.Conn(none)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := driver.RawConn(in("a"), pc, func(*pgx.Conn) error { return nil }); err == nil || !strings.Contains(err.Error(), "not a pgschemas connection") {
		t.Errorf("RawConn on a pgx stdlib connection: %v, want an error saying so", err)
	}
}
