package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// A poolCase is one way the behaviour tests connect: a pooler mode, directly or through PgBouncer.
type poolCase struct {
	name      string
	mode      driver.PoolMode
	pgbouncer bool // through the PgBouncer of pgtest.PgBouncer, in transaction pooling
}

// poolCases are the ways every behaviour test runs: the two modes on a direct connection, then the
// pooler mode behind PgBouncer (skipped without one, outside CI).
var poolCases = []poolCase{
	{name: "session", mode: driver.PoolSession},
	{name: "transaction", mode: driver.PoolTransaction},
	{name: "transaction_pgbouncer", mode: driver.PoolTransaction, pgbouncer: true},
}

// execModes are pgx's exec modes, as the default_query_exec_mode of a DSN names them: tests that
// must hold in every mode loop over them.
var execModes = []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"}

// dsn returns the DSN that the driver opens, in pc's way, for the database at dsn.
func (pc poolCase) dsn(t testing.TB, dsn string) string {
	t.Helper()
	if pc.pgbouncer {
		dsn = pgtest.PgBouncer(t, dsn)
	}
	return pgtest.WithParams(dsn, driver.ParamPooler, string(pc.mode))
}

// eachPoolCase runs f as a subtest for each of cases, named "pooler=<case>".
func eachPoolCase(t *testing.T, cases []poolCase, f func(t *testing.T, pc poolCase)) {
	for _, pc := range cases {
		t.Run("pooler="+pc.name, func(t *testing.T) { f(t, pc) })
	}
}

// TestPoolerRowsMatchStdlib reads one row of many types, with NULLs, in both modes: the pooler
// mode's own rows must give database/sql the values and column types of pgx stdlib's.
func TestPoolerRowsMatchStdlib(t *testing.T) {
	dsn := tenantDB(t, "a")
	const query = `SELECT true AS b, '\x0102'::bytea AS by, 7::oid AS o, '2024-02-29'::date AS d,
		1.5::float4 AS f4, 2.25::float8 AS f8, 3::int2 AS i2, 4::int4 AS i4, 5::int8 AS i8,
		'{"k": 1}'::json AS j, '{"k": 2}'::jsonb AS jb, '2024-02-29 12:34:56.789'::timestamp AS ts,
		'2024-02-29 12:34:56.789+02'::timestamptz AS tz, 'x'::varchar(10) AS vc, 12.34::numeric(6,2) AS n,
		'infinity'::date AS dinf, 'text' AS t, NULL::int AS nul, $1::text AS arg, owner FROM items`
	read := func(mode driver.PoolMode) ([]any, []*sql.ColumnType) {
		db := open(t, pgtest.WithParams(dsn, driver.ParamPooler, string(mode), "default_query_exec_mode", "exec"))
		rows, err := db.QueryContext(in("a"), query, "arg")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		types, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if !rows.Next() {
			t.Fatalf("%s: no row (%v)", mode, rows.Err())
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if rows.Next() || rows.Err() != nil {
			t.Fatalf("%s: a second row, or %v", mode, rows.Err())
		}
		return vals, types
	}
	want, wantTypes := read(driver.PoolSession)
	got, gotTypes := read(driver.PoolTransaction)
	for i, ct := range wantTypes {
		g, w := gotTypes[i], ct
		name := w.Name()
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s: pooler mode scanned %#v (%T), session mode %#v (%T)", name, got[i], got[i], want[i], want[i])
		}
		gl, gok := g.Length()
		wl, wok := w.Length()
		gp, gs, gpok := g.DecimalSize()
		wp, ws, wpok := w.DecimalSize()
		if g.Name() != name || g.DatabaseTypeName() != w.DatabaseTypeName() || g.ScanType() != w.ScanType() ||
			gl != wl || gok != wok || gp != wp || gs != ws || gpok != wpok {
			t.Errorf("%s: pooler mode column type %s %v len %d,%t decimal %d,%d,%t; session mode %s %v len %d,%t decimal %d,%d,%t",
				name, g.DatabaseTypeName(), g.ScanType(), gl, gok, gp, gs, gpok, w.DatabaseTypeName(), w.ScanType(), wl, wok, wp, ws, wpok)
		}
	}
}

// TestPoolerRoundTripsCountedOnTheWire proves, from the messages the server received, that the
// pooler mode sends every statement right after its own set, in the statement's round trip: one
// round trip per statement whatever the tenant, as plain pgx stdlib in exec mode, and one more
// statement. A transaction costs BEGIN's round trip (which carries the set), then one per
// statement, then COMMIT's.
func TestPoolerRoundTripsCountedOnTheWire(t *testing.T) {
	dsn := tenantDB(t, "a", "b")
	proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	through := pgtest.WithParams(proxy.DSN(dsn), "default_query_exec_mode", "exec")
	pg, err := sql.Open("pgx", pgtest.WithParams(through, "search_path", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	db := open(t, pgtest.WithParams(through, driver.ParamPooler, "transaction"))
	for _, d := range []*sql.DB{pg, db} {
		d.SetMaxOpenConns(1)
	}
	const sel, upd = "SELECT owner FROM items WHERE owner <> $1", "UPDATE items SET owner = owner WHERE owner = $1"
	ops := func(d *sql.DB, ctx func(i int) context.Context) {
		for i := range 10 {
			var s string
			if err := d.QueryRowContext(ctx(i), sel, "x").Scan(&s); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ExecContext(ctx(i), upd, "x"); err != nil {
				t.Fatal(err)
			}
		}
	}
	tx := func(d *sql.DB, ctx context.Context) {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := tx.QueryRowContext(none, sel, "x").Scan(&s); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(none, upd, "x"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	ops(pg, func(int) context.Context { return none }) // connect both
	ops(db, func(int) context.Context { return none })

	proxy.Reset()
	ops(pg, func(int) context.Context { return none })
	base, _ := roundTrips(proxy)
	proxy.Reset()
	tx(pg, none)
	baseTx, _ := roundTrips(proxy)

	for _, tc := range []struct {
		name string
		ctx  func(i int) context.Context
	}{
		{"one tenant", func(int) context.Context { return in("a") }},
		{"alternating tenants", func(i int) context.Context { return in([]string{"a", "b"}[i%2]) }},
		{"no tenant", func(int) context.Context { return none }},
	} {
		proxy.Reset()
		ops(db, tc.ctx)
		if trips, sets := roundTrips(proxy); trips != base || sets != 20 {
			t.Errorf("%s: %d round trips and %d sets for 20 statements; want %d (plain stdlib) and 20", tc.name, trips, sets, base)
		}
		for i, s := range statements(proxy) {
			if set := strings.Contains(s, "set_config('search_path', $1, true)"); set != (i%2 == 0) {
				t.Errorf("%s: statement %d sent is %q; want the transaction-scoped set before each statement", tc.name, i, s)
				break
			}
		}
	}
	proxy.Reset()
	tx(db, in("b"))
	// BEGIN's stamp is SET LOCAL (a SELECT before BEGIN would take a snapshot, which BEGIN ISOLATION
	// LEVEL refuses): the sets counted are each statement's.
	if trips, sets := roundTrips(proxy); trips != baseTx || sets != 2 {
		t.Errorf("transaction: %d round trips and %d sets; want %d (plain stdlib) and 2 (each statement's)", trips, sets, baseTx)
	}
}

// TestPoolerStatementsInTransactions covers what SQL inside a transaction can do to a path that
// lasts until the end of the transaction: each statement sets it again, whatever came before.
func TestPoolerStatementsInTransactions(t *testing.T) {
	eachPoolCase(t, poolCases[1:], func(t *testing.T, pc poolCase) {
		db := open(t, pc.dsn(t, tenantDB(t, "a", "b")))
		db.SetMaxOpenConns(1)
		exec := func(t *testing.T, q interface {
			ExecContext(context.Context, string, ...any) (sql.Result, error)
		}, ctx context.Context, query string) {
			t.Helper()
			if _, err := q.ExecContext(ctx, query); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		// begin begins a transaction in ctx's schema, and fails it in it with 1/0 when fail is true.
		begin := func(t *testing.T, ctx context.Context, opts *sql.TxOptions, fail bool) *sql.Tx {
			t.Helper()
			tx, err := db.BeginTx(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tx.Rollback() })
			if fail {
				exec(t, tx, none, "SAVEPOINT s")
				if _, err := tx.ExecContext(none, "SELECT 1/0"); err == nil {
					t.Fatal("1/0: no error")
				}
			}
			return tx
		}

		t.Run("SET LOCAL, savepoints, COMMIT AND CHAIN", func(t *testing.T) {
			tx := begin(t, in("a"), nil, false)
			exec(t, tx, none, "SET LOCAL search_path TO b")
			wantOwner(t, tx, "a", "after SET LOCAL search_path")
			exec(t, tx, none, "SAVEPOINT s")
			wantOwner(t, tx, "a", "after SAVEPOINT") // the set inside the savepoint...
			exec(t, tx, none, "ROLLBACK TO SAVEPOINT s")
			wantOwner(t, tx, "a", "after ROLLBACK TO SAVEPOINT") // ... undone here
			exec(t, tx, none, "COMMIT AND CHAIN")
			wantOwner(t, tx, "a", "in the transaction COMMIT AND CHAIN began")
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("a failed transaction runs ROLLBACK TO SAVEPOINT", func(t *testing.T) {
			tx := begin(t, in("b"), nil, true)
			exec(t, tx, none, "ROLLBACK TO SAVEPOINT s")
			wantOwner(t, tx, "b", "after recovering the failed transaction")
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("a commit that fails is an error", func(t *testing.T) {
			tx := begin(t, in("b"), nil, true)
			if err := tx.Commit(); !errors.Is(err, pgx.ErrTxCommitRollback) {
				t.Fatalf("commit of a failed transaction: %v, want pgx.ErrTxCommitRollback", err)
			}
			wantOwner(t, db, "b", "after the failed commit")
		})

		t.Run("a transaction begun in SQL", func(t *testing.T) {
			c, err := db.Conn(none)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			exec(t, c, in("a"), "BEGIN")
			wantOwner(t, c, "b", "in a transaction begun in SQL")
			wantOwner(t, c, "a", "in a transaction begun in SQL")
			exec(t, c, none, "COMMIT")
			wantOwner(t, c, "b", "after it")
		})

		t.Run("read only and isolation", func(t *testing.T) {
			tx := begin(t, in("a"), &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true}, false)
			var iso, ro string
			if err := tx.QueryRowContext(none, "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')").Scan(&iso, &ro); err != nil {
				t.Fatal(err)
			}
			if iso != "serializable" || ro != "on" {
				t.Errorf("isolation %q, read only %q; want serializable and on", iso, ro)
			}
			wantOwner(t, tx, "a", "in a serializable read-only transaction")
		})
	})
}

// TestPoolerSetsNothingInTheSession checks that a statement in pooler mode leaves the server
// session as it found it: behind a pooler, the next client gets that session.
func TestPoolerSetsNothingInTheSession(t *testing.T) {
	dsn := tenantDB(t, "a")
	db := open(t, pgtest.WithParams(dsn, driver.ParamPooler, "transaction"))
	db.SetMaxOpenConns(1)
	c, err := db.Conn(none)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantOwner(t, c, "a", "setup")
	var path string
	err = driver.RawConn(none, c, func(pc *pgx.Conn) error {
		// The text's COMMIT ends the stamp's transaction: SHOW then reads the session's own path.
		res, err := pc.PgConn().Exec(context.Background(), "COMMIT; SHOW search_path").ReadAll()
		if err == nil && len(res) == 2 && len(res[1].Rows) == 1 {
			path = string(res[1].Rows[0][0])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if path != `"$user", public` {
		t.Errorf("the session's search_path is %q after pooler-mode statements, want the server's default", path)
	}
}

// TestPoolerRefusesStatementsThatCannotRunInATransaction documents the pooler mode's one
// limitation of SQL: a statement that PostgreSQL refuses inside a transaction fails with its error.
func TestPoolerRefusesStatementsThatCannotRunInATransaction(t *testing.T) {
	db := open(t, pgtest.WithParams(tenantDB(t, "a"), driver.ParamPooler, "transaction"))
	_, err := db.ExecContext(in("a"), "VACUUM items")
	if err == nil || !strings.Contains(err.Error(), "VACUUM cannot") {
		t.Errorf("VACUUM in pooler mode: %v, want PostgreSQL's refusal", err)
	}
	var se *driver.SchemaError
	if errors.As(err, &se) {
		t.Errorf("VACUUM in pooler mode: %v: the schema's set did not fail", err)
	}
	wantOwner(t, db, "a", "after the refusal")
}

// ExampleOpenDB_pooler opens the driver for a pooler in transaction mode, such as PgBouncer with
// pool_mode=transaction: each statement then carries its tenant's path in its own round trip.
func ExampleOpenDB_pooler() {
	cfg, err := driver.ParseConfig(pgtest.ExampleDSN()) // in a service: "postgres://app@pgbouncer:6432/app"
	if err != nil {
		log.Fatal(err)
	}
	cfg.Pooler = driver.PoolTransaction // or pgschemas_pooler=transaction in the DSN
	db, err := driver.OpenDB(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	_, err = db.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS hooli CASCADE; CREATE SCHEMA hooli;
		CREATE TABLE hooli.notes(title text); INSERT INTO hooli.notes VALUES ('hooli: ship the box')`)
	if err != nil {
		log.Fatal(err)
	}
	var title string
	ctx := driver.WithSchema(context.Background(), "hooli")
	if err := db.QueryRowContext(ctx, "SELECT title FROM notes").Scan(&title); err != nil {
		log.Fatal(err)
	}
	fmt.Println(title)
	// Output: hooli: ship the box
}
