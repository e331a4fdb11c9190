package driver_test

import (
	"cmp"
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// isoTenants are the tenant schemas of TestIsolationUnderLoad; "T5Mixed" needs quoting. The load
// also targets public, through contexts without a schema.
var isoTenants = []string{"t0", "t1", "t2", "t3", "t4", "T5Mixed", "t6", "t7"}

// The kinds of operation the load mixes.
const (
	isoExec       = iota // db.ExecContext insert
	isoQuery             // db.QueryContext of every owner
	isoQueryRow          // db.QueryRowContext count
	isoStmt              // the shared *sql.Stmt: Exec or Query
	isoTxCommit          // a committed transaction
	isoTxRollback        // a rolled-back transaction
	isoTxMismatch        // a transaction that another schema's context must not reach
	isoCancel            // a query whose context ends before, during or after it
	isoKinds
)

var isoKindNames = [isoKinds]string{"exec", "query", "queryrow", "stmt", "tx-commit", "tx-rollback", "tx-mismatch", "cancel"}

// SQL of the load. Every tenant's table has the same shape, so statements are shared.
const (
	isoInsertSQL = "INSERT INTO items (owner, v) VALUES ($1, $2)"
	isoOwnersSQL = "SELECT owner FROM items"

	// isoCountSQL proves the search path (current_schema() is the first schema of it that exists)
	// and that every row of the table it resolved has one owner.
	isoCountSQL = "SELECT current_schema(), count(*), min(owner), max(owner) FROM items"

	// isoTrimSQL deletes the rows of owner $1 but the seed (id 1) and those among the newest $2
	// ids. SKIP LOCKED passes over the rows a concurrent trim of the same table holds: trims never
	// wait for each other, and never deadlock.
	isoTrimSQL = `DELETE FROM items WHERE id IN (
		SELECT id FROM items WHERE owner = $1 AND id > 1 AND id <= (SELECT max(id) FROM items) - $2
		FOR UPDATE SKIP LOCKED)`
	isoKeep = 100

	// isoSleepSQL runs for 20 ms in the server: long enough for a cancel request to land.
	isoSleepSQL = "SELECT owner, pg_sleep(0.02)::text FROM items LIMIT 1"
)

// isoTarget is the schema an operation runs in: a tenant, or public when schema is "".
type isoTarget struct {
	idx    int    // index into isoLoad.rows
	schema string // "" for public
	owner  string // the owner of every row the target holds: its schema, or "public"
}

// ctx returns base with the target's schema, or base itself for public.
func (tg isoTarget) ctx(base context.Context) context.Context {
	if tg.schema == "" {
		return base
	}
	return driver.WithSchema(base, tg.schema)
}

// isoLoad is the state the load's goroutines share.
type isoLoad struct {
	db          *sql.DB
	targets     []isoTarget // the tenants, then public
	insStmt     *sql.Stmt   // isoInsertSQL, prepared once without a schema
	selStmt     *sql.Stmt   // SELECT owner FROM items WHERE id >= $1, prepared once without a schema
	cancelShare float64     // the share of operations that are isoCancel

	trim      bool                   // transactions delete old rows (isoTrimSQL)
	killing   bool                   // backends are terminated during the load: lost connections are expected
	ops       [isoKinds]atomic.Int64 // operations run, per kind
	rows      []atomic.Int64         // per target: rows committed minus rows deleted, besides the seed
	maybe     []atomic.Int64         // per target: rows whose commit lost its connection, committed or not
	lost      atomic.Int64           // operations that failed because their connection was lost
	marker    atomic.Int64           // source of the unique negative v of rolled-back rows
	cancelled atomic.Int64           // isoCancel queries that their context ended
	completed atomic.Int64           // isoCancel queries that completed before their context ended
	after     atomic.Int64           // counts run on a connection right after its cancelled query
	gone      atomic.Int64           // ... that found the connection discarded instead
	stray     atomic.Int64           // statements that a late cancel request cancelled (see fail)

	leaks      atomic.Int64
	unexpected atomic.Int64
	mu         sync.Mutex
	failures   []string // the first isoMaxReported leaks and unexpected errors

	total, done int64    // operations planned, and run
	tableErrs   []string // what the final check of the tables found wrong
	citus       bool     // through a Citus coordinator (see currentSchemaOK)
}

const isoMaxReported = 10

func (l *isoLoad) record(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < isoMaxReported {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
}

// leak records that an operation of tg saw what belongs to another schema.
func (l *isoLoad) leak(kind int, tg isoTarget, saw string) {
	l.leaks.Add(1)
	l.record("LEAK: %s in %q saw %s", isoKindNames[kind], tg.owner, saw)
}

// fail records err, when not nil, as an error the operation must not have had, and reports
// whether err was not nil.
//
// One error may hit any statement: a cancel request is asynchronous, and one sent for an isoCancel
// query can reach the server after that query ended and cancel the connection's next statement
// (pgx's CancelRequestContextWatcherHandler sleeps 100 ms after sending it to make that unlikely,
// and calls it inherently racy). The statement fails and commits nothing, the operation stops, and
// the error is counted apart: only a cancel request makes the server fail with SQLSTATE 57014, and
// the test checks there are no more of them than isoCancel queries.
//
// While backends are terminated (killing), an error that says the connection was lost is counted
// apart too: the operation stops, as a caller would.
func (l *isoLoad) fail(kind int, tg isoTarget, what string, err error) bool {
	if err == nil {
		return false
	}
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "57014" {
		l.stray.Add(1)
		return true
	}
	if l.killing && connLost(err) {
		l.lost.Add(1)
		return true
	}
	l.unexpected.Add(1)
	l.record("%s in %q: %s: %v", isoKindNames[kind], tg.owner, what, err)
	return true
}

// wrote records the outcome of the commit of n rows in tg: committed when err is nil; committed or
// not when the connection was lost, which the final check allows for.
func (l *isoLoad) wrote(kind int, tg isoTarget, what string, err error, n int64) {
	switch {
	case !l.fail(kind, tg, what, err):
		l.rows[tg.idx].Add(n)
	case l.killing && connLost(err):
		l.maybe[tg.idx].Add(n)
	}
}

// connLost reports whether err says that the operation's connection was lost, as the operation
// that used a terminated backend, or the next one on its connection, sees it.
func connLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 57P01 admin_shutdown: "terminating connection due to administrator command". Class 08,
		// connection exception: PgBouncer's "server conn crashed?", and the like.
		return pgErr.Code == "57P01" || strings.HasPrefix(pgErr.Code, "08")
	}
	var netErr net.Error
	return errors.Is(err, sqldriver.ErrBadConn) || errors.Is(err, driver.ErrConnLost) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &netErr)
}

// stopped reports whether the load has failed enough to stop early.
func (l *isoLoad) stopped() bool { return l.unexpected.Load()+l.leaks.Load() >= 100 }

// owners reads every row of rows, whose first column is an owner, and records a leak for each row
// that is not tg's. It returns the number of rows, and the first error.
func (l *isoLoad) owners(kind int, tg isoTarget, rows *sql.Rows) (int, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	var owner string
	dest := []any{&owner}
	for range cols[1:] {
		dest = append(dest, new(any))
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		n++
		if owner != tg.owner {
			l.leak(kind, tg, fmt.Sprintf("a row of owner %q", owner))
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, rows.Close()
}

// checkOwners checks the result of a query of owners: no error, at least one row (the seed), all of
// them tg's. It reports whether the query succeeded.
func (l *isoLoad) checkOwners(kind int, tg isoTarget, what string, rows *sql.Rows, err error) bool {
	if l.fail(kind, tg, what, err) {
		return false
	}
	n, err := l.owners(kind, tg, rows)
	if l.fail(kind, tg, what, err) {
		return false
	}
	if n == 0 {
		l.fail(kind, tg, what, errors.New("no rows: the seed row is missing"))
	}
	return true
}

// checkCount runs isoCountSQL through q with ctx and checks that it ran in tg's schema and counted
// tg's rows only. It reports whether the query succeeded.
func (l *isoLoad) checkCount(kind int, tg isoTarget, what string, q queryRower, ctx context.Context) bool {
	var cur, lo, hi string
	var n int64
	if l.fail(kind, tg, what, q.QueryRowContext(ctx, isoCountSQL).Scan(&cur, &n, &lo, &hi)) {
		return false
	}
	if !currentSchemaOK(cur, tg.owner, l.citus) { // tg.owner is the schema's name, "public" included
		l.leak(kind, tg, fmt.Sprintf("current_schema() %q", cur))
	}
	if lo != tg.owner || hi != tg.owner {
		l.leak(kind, tg, fmt.Sprintf("owners %q to %q", lo, hi))
	}
	if n == 0 {
		l.fail(kind, tg, what, errors.New("count 0: the seed row is missing"))
	}
	return true
}

// isoCancelErr reports whether err is an error that a query may end with when its context ends.
func isoCancelErr(err error) bool {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	case errors.Is(err, sqldriver.ErrBadConn): // the driver and pgx stdlib say so when the context ended before anything was sent
		return true
	case errors.As(err, &pgErr) && pgErr.Code == "57014": // canceling statement due to user request
		return true
	}
	return false
}

// run runs one operation of a random kind in a random target.
func (l *isoLoad) run(rng *rand.Rand) {
	bg := context.Background()
	tg := l.targets[rng.IntN(len(l.targets))]
	ctx := tg.ctx(bg)
	kind := rng.IntN(isoCancel)
	if rng.Float64() < l.cancelShare {
		kind = isoCancel
	}
	defer l.ops[kind].Add(1)

	switch kind {
	case isoExec:
		_, err := l.db.ExecContext(ctx, isoInsertSQL, tg.owner, rng.IntN(1000))
		l.wrote(kind, tg, "insert", err, 1)

	case isoQuery:
		rows, err := l.db.QueryContext(ctx, isoOwnersSQL)
		l.checkOwners(kind, tg, "select", rows, err)

	case isoQueryRow:
		l.checkCount(kind, tg, "count", l.db, ctx)

	case isoStmt:
		if rng.IntN(2) == 0 {
			_, err := l.insStmt.ExecContext(ctx, tg.owner, rng.IntN(1000))
			l.wrote(kind, tg, "stmt insert", err, 1)
		} else {
			rows, err := l.selStmt.QueryContext(ctx, 1)
			l.checkOwners(kind, tg, "stmt select", rows, err)
		}

	case isoTxCommit:
		tx, err := l.db.BeginTx(ctx, nil)
		if l.fail(kind, tg, "begin", err) {
			return
		}
		defer tx.Rollback()
		// A context without a schema runs in the transaction's schema.
		_, err = tx.ExecContext(bg, isoInsertSQL, tg.owner, rng.IntN(1000))
		if l.fail(kind, tg, "insert without schema", err) {
			return
		}
		rows, err := tx.QueryContext(bg, isoOwnersSQL)
		if !l.checkOwners(kind, tg, "select without schema", rows, err) {
			return
		}
		rows, err = tx.QueryContext(ctx, isoOwnersSQL)
		if !l.checkOwners(kind, tg, "select with schema", rows, err) {
			return
		}
		// Keep the tables small, so that reading all of one stays cheap. Rows of another owner
		// stay for the final check; a trim that ran in another schema would find no rows of tg
		// there, and leave tg's table with more rows than the final check expects. (Not while
		// backends are killed: a commit whose connection is lost leaves its deletions unknown.)
		var deleted int64
		if l.trim {
			res, err := tx.ExecContext(bg, isoTrimSQL, tg.owner, isoKeep)
			if l.fail(kind, tg, "trim without schema", err) {
				return
			}
			deleted, err = res.RowsAffected()
			if l.fail(kind, tg, "trim: rows affected", err) {
				return
			}
		}
		l.wrote(kind, tg, "commit", tx.Commit(), 1-deleted)

	case isoTxRollback:
		mark := -l.marker.Add(1)
		tx, err := l.db.BeginTx(ctx, nil)
		if l.fail(kind, tg, "begin", err) {
			return
		}
		defer tx.Rollback()
		_, err = tx.ExecContext(ctx, isoInsertSQL, tg.owner, mark)
		if l.fail(kind, tg, "insert", err) {
			return
		}
		if l.fail(kind, tg, "rollback", tx.Rollback()) {
			return
		}
		// The row is gone, read most likely on the same connection, right after the rollback.
		// (The final check finds no rolled-back row in any schema.)
		var n int
		err = l.db.QueryRowContext(ctx, "SELECT count(*) FROM items WHERE v = $1", mark).Scan(&n)
		if l.fail(kind, tg, "count after rollback", err) {
			return
		}
		if n != 0 {
			l.fail(kind, tg, "count after rollback", fmt.Errorf("%d rolled-back rows with v = %d", n, mark))
		}

	case isoTxMismatch:
		// Another tenant: a context without a schema is no mismatch, it runs in the transaction's.
		other := l.targets[rng.IntN(len(isoTenants))]
		for other.schema == tg.schema {
			other = l.targets[rng.IntN(len(isoTenants))]
		}
		octx := other.ctx(bg)
		tx, err := l.db.BeginTx(ctx, nil)
		if l.fail(kind, tg, "begin", err) {
			return
		}
		defer tx.Rollback()
		// mismatch reports whether err is ErrSchemaMismatch, and records it when not.
		mismatch := func(what string, err error) bool {
			if errors.Is(err, driver.ErrSchemaMismatch) {
				return true
			}
			l.fail(kind, tg, what+" with the context of "+other.owner, fmt.Errorf("want ErrSchemaMismatch, got %w", err))
			return false
		}
		// Had it run, this row (owner = other) would be in tg's table, which the transaction
		// commits: a leak that the count below and the final check see.
		_, err = tx.ExecContext(octx, isoInsertSQL, other.owner, rng.IntN(1000))
		if !mismatch("insert", err) {
			return
		}
		switch rng.IntN(3) {
		case 0:
			rows, err := tx.QueryContext(octx, isoOwnersSQL)
			if err == nil {
				l.owners(kind, tg, rows)
			}
			if !mismatch("select", err) {
				return
			}
		case 1:
			var n int
			if !mismatch("count", tx.QueryRowContext(octx, "SELECT count(*) FROM items").Scan(&n)) {
				return
			}
		case 2:
			// The shared statement, bound to the transaction in its own schema.
			_, err := tx.StmtContext(ctx, l.insStmt).ExecContext(octx, other.owner, rng.IntN(1000))
			if !mismatch("stmt insert", err) {
				return
			}
		}
		// The transaction goes on in its own schema.
		_, err = tx.ExecContext(ctx, isoInsertSQL, tg.owner, rng.IntN(1000))
		if l.fail(kind, tg, "insert after the mismatch", err) {
			return
		}
		if !l.checkCount(kind, tg, "count after the mismatch", tx, bg) {
			return
		}
		l.wrote(kind, tg, "commit", tx.Commit(), 1)

	case isoCancel:
		// The connection is taken first, so that the context's time is not spent waiting for the
		// pool, and so that the next operation on the same connection can be checked.
		conn, err := l.db.Conn(bg)
		if l.fail(kind, tg, "conn", err) {
			return
		}
		defer conn.Close()
		// The query takes 20 ms in the server, after a round trip to set the path; the context
		// ends after 0 to 25 ms: before anything is sent, while the path is set, during the query,
		// or after it.
		d := time.Duration(rng.IntN(25_000)) * time.Microsecond
		var cctx context.Context
		var cancel context.CancelFunc
		if rng.IntN(2) == 0 {
			cctx, cancel = context.WithTimeout(ctx, d)
		} else {
			cctx, cancel = context.WithCancel(ctx)
			time.AfterFunc(d, cancel)
		}
		defer cancel()
		rows, err := conn.QueryContext(cctx, isoSleepSQL)
		if err == nil {
			_, err = l.owners(kind, tg, rows) // whatever arrived must be tg's
		}
		switch {
		case err == nil:
			l.completed.Add(1)
		case isoCancelErr(err):
			l.cancelled.Add(1)
		default:
			l.fail(kind, tg, "cancelled select", err)
			return
		}
		// The connection's path may be in doubt now. Its next operation, in a random target, runs
		// there: unless the connection was discarded.
		next := l.targets[rng.IntN(len(l.targets))]
		var cur, lo, hi string
		var n int64
		err = conn.QueryRowContext(next.ctx(bg), isoCountSQL).Scan(&cur, &n, &lo, &hi)
		l.after.Add(1)
		switch {
		case errors.Is(err, sqldriver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
			l.gone.Add(1)
		case l.fail(kind, next, "count on the connection after a cancelled query", err):
		case !currentSchemaOK(cur, next.owner, l.citus) || lo != next.owner || hi != next.owner:
			l.leak(kind, next, fmt.Sprintf("after a cancelled query: current_schema() %q, owners %q to %q", cur, lo, hi))
		}
	}
}

// TestIsolationUnderLoad runs 32 goroutines over a pool of 4 connections. Each operation runs in a
// random target (eight tenant schemas, or public without a schema in its context) and is of a
// random kind (statements, the shared prepared statement, committed, rolled-back and mismatched
// transactions, cancelled queries). No operation may see a row of another schema or write one
// there, and none may fail but those whose context ends. At the end, each schema's table must
// hold exactly the rows committed in it, all its own.
func TestIsolationUnderLoad(t *testing.T) {
	l := runIsoLoad(t, isoRun{conns: 4, total: 100_000})
	l.wantClean(t)
}

// TestPoolerIsolationUnderLoadBehindPgBouncer runs the same load in the pooler mode, through a
// PgBouncer in transaction pooling with two server sessions: 32 goroutines over 8 connections,
// whose transactions each may run on either server session.
func TestPoolerIsolationUnderLoadBehindPgBouncer(t *testing.T) {
	l := runIsoLoad(t, isoRun{conns: 8, total: 25_000, dsn: poolCases[2].dsn})
	l.wantClean(t)
}

// TestDefaultModeNeverLeaksBehindPgBouncer runs the load without the pooler mode behind a
// PgBouncer in transaction pooling, the configuration that leaked rows between tenants when the
// driver set the session's path. Every statement carries its own path now, so nothing leaks;
// statements fail where PgBouncer hands them a server session that lacks the stamp's prepared
// statement, which is why the pooler mode, which prepares nothing that outlives a statement,
// exists. (Exec mode, so that pgx's own named statements do not fail first.)
func TestDefaultModeNeverLeaksBehindPgBouncer(t *testing.T) {
	l := runIsoLoad(t, isoRun{conns: 8, total: 5_000, dsn: func(t testing.TB, dsn string) string {
		return pgtest.WithParams(pgtest.PgBouncer(t, dsn), "default_query_exec_mode", "exec")
	}})
	if n := l.leaks.Load(); n != 0 {
		t.Errorf("default mode behind PgBouncer's transaction pooling: %d leaks in %d operations, want none", n, l.done)
	}
}

// TestIsolationUnderLoadWithKilledBackends runs the load for 15 seconds while another session
// terminates a random backend of the database every 5 to 15 ms (pg_terminate_backend), in session
// mode and in pooler mode, on direct connections. No operation may leak; an
// operation may fail only because its connection was lost; every row whose commit succeeded must
// be there, and none but those and the ones whose commit lost its connection; once the kills stop,
// the pool recovers. Connections time out after 5 s (connect_timeout): under kills, a connection
// attempt may otherwise wait for the server forever, and database/sql opens them one at a time.
func TestIsolationUnderLoadWithKilledBackends(t *testing.T) {
	timeout := func(t testing.TB, dsn string) string { return pgtest.WithParams(dsn, "connect_timeout", "5") }
	for _, r := range []isoRun{
		{name: "session", conns: 4, kill: true, dsn: timeout},
		// The pooler mode on direct connections, not behind PgBouncer: PgBouncer 1.18 itself exits
		// ("server_proto: server in bad state") when its server connections are terminated while
		// clients' cancel requests are in flight, and pgx sends one each time it closes a broken
		// connection (pgconn's asyncClose). What is tested here is the driver's recovery, and a
		// PgBouncer that exits would also fail every later test that goes through it.
		{name: "transaction", conns: 8, kill: true, dsn: func(t testing.TB, dsn string) string {
			return timeout(t, poolCases[1].dsn(t, dsn))
		}},
	} {
		t.Run("pooler="+r.name, func(t *testing.T) {
			l := runIsoLoad(t, r)
			l.wantClean(t)
		})
	}
}

// isoRun is one run of the isolation load.
type isoRun struct {
	name  string
	conns int   // the driver pool's size
	total int64 // operations; a twentieth of it under the race detector or -short
	// dsn returns the DSN the driver opens for the run's database; nil opens the database itself.
	dsn func(t testing.TB, dsn string) string
	// kill terminates a random backend of the database every 5 to 15 ms, for 15 seconds of load (5
	// under the race detector or -short) rather than a number of operations.
	kill bool
	// killEvery, duration and cancelShare, when not zero, replace the kills' interval, the 15 (or 5)
	// seconds of a run with kills, and the share of cancelled queries.
	killEvery   time.Duration
	duration    time.Duration
	cancelShare float64
	// strict runs the load in strict mode, as a login role of its own, with a role per tenant.
	strict bool
}

// runIsoLoad makes a database for r, runs its load and checks the tables at the end. It returns the
// load's counts for the test to judge (wantClean), after logging them.
func runIsoLoad(t *testing.T, r isoRun) *isoLoad {
	dsn := newDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	pc, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	var setup strings.Builder
	for _, s := range append([]string{"public"}, isoTenants...) {
		q := pgx.Identifier{s}.Sanitize()
		if s != "public" {
			fmt.Fprintf(&setup, "CREATE SCHEMA %s;\n", q)
		}
		fmt.Fprintf(&setup, "CREATE TABLE %s.items (id bigserial PRIMARY KEY, owner text NOT NULL, v int);\n", q)
		fmt.Fprintf(&setup, "INSERT INTO %s.items (owner, v) VALUES ('%s', 0);\n", q, s)
	}
	// The database is the test's own: its commits need not wait for the disk.
	setup.WriteString("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database()); END $$;\n")
	if _, err := pc.Exec(ctx, setup.String()); err != nil {
		t.Fatalf("setup: %v", err)
	}

	// sql.Open("pgschemas", dsn), except that every other connection cancels through the server
	// (pgx's CancelRequestContextWatcherHandler) instead of closing when a context ends (pgx's
	// default): such a connection outlives a cancelled operation, with its search path in doubt,
	// and serves the next ones. Not through PgBouncer: 1.18 exits ("bad client state: 0") when
	// the client of a cancel request hangs up before the request reached the server
	// (pgbouncer/pgbouncer#801, fixed in 1.20), as pgx's sometimes does.
	through, cancelRequests := dsn, true
	if r.dsn != nil {
		through, cancelRequests = r.dsn(t, dsn), false
	}
	if r.strict {
		login := loginRole(t, dsn)
		tenantRoles(t, dsn, login, isoTenants...)
		through = pgtest.WithParams(through, "user", login, driver.ParamStrict, "on")
	}
	cfg, err := driver.ParseConfig(through)
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		if conns.Add(1)%2 == 0 && cancelRequests {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
		}
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	db, err := driver.OpenDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(r.conns)
	db.SetMaxIdleConns(r.conns)

	// A cancellation costs far more than any other operation: the connection is replaced, or
	// (cancelling through the server) held 100 ms by pgx. So they are rare, and rarer in a long run.
	total, cancelShare, duration := r.total, 0.003, 15*time.Second
	if raceEnabled || testing.Short() {
		total, cancelShare, duration = r.total/20, 0.02, 5*time.Second
	}
	if r.kill {
		total = math.MaxInt64
	}
	if r.duration > 0 {
		duration = r.duration
	}
	if r.cancelShare > 0 {
		cancelShare = r.cancelShare
	}
	l := &isoLoad{db: db, cancelShare: cancelShare, trim: !r.kill, killing: r.kill, total: total, citus: onCitus(t)}
	for i, s := range isoTenants {
		l.targets = append(l.targets, isoTarget{idx: i, schema: s, owner: s})
	}
	l.targets = append(l.targets, isoTarget{idx: len(isoTenants), owner: "public"})
	l.rows = make([]atomic.Int64, len(l.targets))
	l.maybe = make([]atomic.Int64, len(l.targets))
	// Prepared once, in public, and run by every goroutine in every target.
	if l.insStmt, err = db.PrepareContext(ctx, isoInsertSQL); err != nil {
		t.Fatal(err)
	}
	defer l.insStmt.Close()
	if l.selStmt, err = db.PrepareContext(ctx, "SELECT owner FROM items WHERE id >= $1"); err != nil {
		t.Fatal(err)
	}
	defer l.selStmt.Close()

	var kills atomic.Int64
	stopKiller := func() {}
	if r.kill {
		var checker int32
		if err := pc.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&checker); err != nil {
			t.Fatal(err)
		}
		kctx, kcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			isoKill(kctx, t, pgtest.AdminDSN(t), pc.Config().Database, checker, r.killEvery, &kills)
		}()
		stopKiller = func() { kcancel(); <-done }
	}

	const workers = 32
	var next atomic.Int64
	start := time.Now()
	seed := uint64(start.UnixNano())
	more := func() bool { return next.Add(1) <= total && !l.stopped() }
	if r.kill {
		more = func() bool { return time.Since(start) < duration && !l.stopped() }
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for more() {
				l.run(rng)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopKiller()

	var counts []string
	for k := range isoKinds {
		n := l.ops[k].Load()
		l.done += n
		counts = append(counts, fmt.Sprintf("%s=%d", isoKindNames[k], n))
	}
	t.Logf("seed %d: %d operations by %d goroutines over %d connections in %v (%.0f/s)",
		seed, l.done, workers, r.conns, elapsed.Round(time.Millisecond), float64(l.done)/elapsed.Seconds())
	t.Logf("per kind: %s", strings.Join(counts, " "))
	t.Logf("cancel: %d queries ended by their context, %d completed first; %d counts on the connection "+
		"right after (%d found it discarded); %d connections opened",
		l.cancelled.Load(), l.completed.Load(), l.after.Load(), l.gone.Load(), conns.Load())
	if r.kill {
		t.Logf("kills: %d backends terminated; %d operations failed on a lost connection", kills.Load(), l.lost.Load())
		l.recovers(t)
	}
	t.Logf("leaks: %d; unexpected errors: %d; statements cancelled by a late cancel request: %d",
		l.leaks.Load(), l.unexpected.Load(), l.stray.Load())

	// Every table holds its seed row and the rows committed in it, all its own, and none of the
	// rolled-back ones; with kills, some of those whose commit lost its connection.
	var tables []string
	for _, tg := range l.targets {
		var n, foreign, rolledBack int64
		err := pc.QueryRow(ctx, fmt.Sprintf(
			"SELECT count(*), count(*) FILTER (WHERE owner <> $1), count(*) FILTER (WHERE v < 0) FROM %s.items",
			pgx.Identifier{tg.owner}.Sanitize()), tg.owner).Scan(&n, &foreign, &rolledBack)
		if err != nil {
			l.tableErrs = append(l.tableErrs, fmt.Sprintf("check %s: %v", tg.owner, err))
			continue
		}
		lo := 1 + l.rows[tg.idx].Load()
		hi := lo + l.maybe[tg.idx].Load()
		if foreign != 0 || rolledBack != 0 || n < lo || n > hi {
			want := fmt.Sprint(lo)
			if hi > lo {
				want = fmt.Sprintf("%d to %d", lo, hi)
			}
			l.tableErrs = append(l.tableErrs, fmt.Sprintf("%s.items: %d rows, want %s; %d of another owner, %d rolled back",
				tg.owner, n, want, foreign, rolledBack))
		}
		tables = append(tables, fmt.Sprintf("%s=%d", tg.owner, n))
	}
	t.Logf("rows left per schema: %s", strings.Join(tables, " "))
	return l
}

// wantClean fails the test unless the load had no leak, no unexpected error, no more stray
// cancellations than cancelled queries, tables as expected, and all its operations.
func (l *isoLoad) wantClean(t *testing.T) {
	t.Helper()
	for _, f := range append(l.failures, l.tableErrs...) {
		t.Error(f)
	}
	if n := l.leaks.Load(); n != 0 {
		t.Errorf("%d leaks", n)
	}
	if n := l.unexpected.Load(); n != 0 {
		t.Errorf("%d unexpected errors (the first ones above)", n)
	}
	if n, c := l.stray.Load(), l.ops[isoCancel].Load(); n > c {
		t.Errorf("%d statements cancelled by the server, more than the %d cancelled queries could have caused", n, c)
	}
	if l.done < l.total && l.total != math.MaxInt64 && !t.Failed() {
		t.Errorf("only %d of %d operations ran", l.done, l.total)
	}
}

// recovers checks, once the kills have stopped, that the pool serves every target again: each
// connection killed while idle may fail its next operation once, and is then replaced.
func (l *isoLoad) recovers(t *testing.T) {
	t.Helper()
	maxFails := l.db.Stats().MaxOpenConnections + 4 // and PgBouncer's 2 server sessions
	fails, ok := 0, 0
	for ok < 100 && fails <= maxFails {
		tg := l.targets[(fails+ok)%len(l.targets)]
		var cur string
		if err := l.db.QueryRowContext(tg.ctx(context.Background()), "SELECT current_schema()").Scan(&cur); err != nil {
			if !connLost(err) {
				t.Errorf("after the kills, %s: %v: not a lost connection", tg.owner, err)
			}
			fails++
			ok = 0
			continue
		}
		if cur != tg.owner {
			l.leak(isoQueryRow, tg, fmt.Sprintf("after the kills: current_schema() %q", cur))
		}
		ok++
	}
	if ok < 100 {
		t.Errorf("after the kills, the pool did not recover: %d failures before 100 operations in a row succeeded", fails)
	}
	t.Logf("after the kills: %d operations failed on a lost connection, then 100 in a row succeeded", fails)
}

// isoKill terminates a random client backend of database, other than checker, every 5 to 15 ms
// (every, when not zero) until ctx ends, and counts the kills.
func isoKill(ctx context.Context, t *testing.T, adminDSN, database string, checker int32, every time.Duration, kills *atomic.Int64) {
	c, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Errorf("killer: %v", err)
		return
	}
	defer c.Close(context.Background())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(cmp.Or(every, time.Duration(5000+rng.IntN(10_000))*time.Microsecond)):
		}
		var killed bool
		err := c.QueryRow(ctx, `SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM (
			SELECT pid FROM pg_stat_activity
			WHERE datname = $1 AND pid <> $2 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
			ORDER BY random() LIMIT 1) victim`, database, checker).Scan(&killed)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("killer: %v", err)
			}
			return
		}
		if killed {
			kills.Add(1)
		}
	}
}
