package pgtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// startProxy starts a proxy in front of the package's throwaway database and returns it with
// the database's DSN rewritten to go through it.
func startProxy(t *testing.T) (*pgtest.Proxy, string) {
	t.Helper()
	dsn := pgtest.DSN(t)
	p := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	return p, p.DSN(dsn)
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect through proxy: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func wantStats(t *testing.T, p *pgtest.Proxy, want pgtest.WireStats) {
	t.Helper()
	if got := p.Stats(); got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}

func wantStatements(t *testing.T, p *pgtest.Proxy, want ...string) {
	t.Helper()
	if got := p.Statements(); !slices.Equal(got, want) {
		t.Fatalf("Statements() = %q, want %q", got, want)
	}
}

func TestProxySimpleQuery(t *testing.T) {
	p, dsn := startProxy(t)
	wantStats(t, p, pgtest.WireStats{})
	conn := connect(t, dsn)
	// Connecting with trust authentication sends only the startup packet, which is not a message.
	wantStats(t, p, pgtest.WireStats{Connections: 1})

	if _, err := conn.Exec(context.Background(), "select 1"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Queries: 1, Connections: 1})
	if got := p.Stats().RoundTrips(); got != 1 {
		t.Fatalf("RoundTrips() = %d, want 1", got)
	}
	wantStatements(t, p, "select 1")

	if _, err := conn.Exec(context.Background(), "select 2; select 3"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Queries: 2, Connections: 1})
	wantStatements(t, p, "select 1", "select 2; select 3")
}

func TestProxyExtendedProtocol(t *testing.T) {
	p, dsn := startProxy(t)
	conn := connect(t, dsn)
	ctx := context.Background()

	// The default mode (QueryExecModeCacheStatement) prepares on first use: Parse, Describe, Sync,
	// then Bind, Describe?, Execute, Sync.
	if _, err := conn.Exec(ctx, "select $1::int", 1); err != nil {
		t.Fatal(err)
	}
	first := pgtest.WireStats{Parses: 1, Binds: 1, Executes: 1, Syncs: 2, Connections: 1}
	wantStats(t, p, first)
	if got := p.Stats().RoundTrips(); got != 2 {
		t.Fatalf("RoundTrips() after the first call = %d, want 2", got)
	}
	wantStatements(t, p, "select $1::int")

	// The second call reuses the cached statement: Bind, Execute, Sync.
	if _, err := conn.Exec(ctx, "select $1::int", 2); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Parses: 1, Binds: 2, Executes: 2, Syncs: 3, Connections: 1})
	wantStatements(t, p, "select $1::int")

	p.Reset()
	wantStats(t, p, pgtest.WireStats{})
	wantStatements(t, p)
	if _, err := conn.Exec(ctx, "select $1::int", 3); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Binds: 1, Executes: 1, Syncs: 1})
	if got := p.Stats().RoundTrips(); got != 1 {
		t.Fatalf("RoundTrips() after Reset = %d, want 1", got)
	}
	wantStatements(t, p)

	// A row query with its rows read.
	var n int
	if err := conn.QueryRow(ctx, "select $1::int + 1", 41).Scan(&n); err != nil || n != 42 {
		t.Fatalf("QueryRow = %d, %v", n, err)
	}
	wantStats(t, p, pgtest.WireStats{Parses: 1, Binds: 2, Executes: 2, Syncs: 3})
	wantStatements(t, p, "select $1::int + 1")
}

func TestProxyBatch(t *testing.T) {
	p, dsn := startProxy(t)
	conn := connect(t, dsn)
	ctx := context.Background()

	b := &pgx.Batch{}
	for i := range 3 {
		b.Queue(fmt.Sprintf("select %d + $1::int", i), i)
	}
	// The first time, the default mode prepares the three statements in one pipeline (3 Parses,
	// one Sync), then runs them in another (3 Binds and Executes, one Sync).
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Parses: 3, Binds: 3, Executes: 3, Syncs: 2, Connections: 1})
	wantStatements(t, p, "select 0 + $1::int", "select 1 + $1::int", "select 2 + $1::int")

	// Then the statements are cached: one pipeline, one round trip.
	p.Reset()
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Binds: 3, Executes: 3, Syncs: 1})
	if got := p.Stats().RoundTrips(); got != 1 {
		t.Fatalf("RoundTrips() for a cached batch = %d, want 1", got)
	}
}

func TestProxyDatabaseSQL(t *testing.T) {
	p, dsn := startProxy(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	// A dedicated connection: database/sql may ping a pooled connection on reuse.
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantStats(t, p, pgtest.WireStats{Connections: 1})

	if _, err := c.ExecContext(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Queries: 1, Connections: 1})

	if _, err := c.ExecContext(ctx, "select $1::int", 1); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Queries: 1, Parses: 1, Binds: 1, Executes: 1, Syncs: 2, Connections: 1})
	if got := p.Stats().RoundTrips(); got != 3 {
		t.Fatalf("RoundTrips() = %d, want 3", got)
	}
	wantStatements(t, p, "select 1", "select $1::int")
}

func TestProxyConnections(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	keyword := fmt.Sprintf("host=%s port=%d user=%s dbname=%s", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		keyword += " password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(cfg.Password) + "'"
	}
	url := fmt.Sprintf("postgres://%s@%s/%s", cfg.User, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), cfg.Database)
	if cfg.Password != "" {
		url = dsn // keep the password's own encoding
	}
	for i, d := range []string{url, keyword} {
		conn := connect(t, p.DSN(d))
		var db string
		if err := conn.QueryRow(context.Background(), "select current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		if db != cfg.Database {
			t.Fatalf("through the proxy: current_database() = %q, want %q", db, cfg.Database)
		}
		if got := p.Stats().Connections; got != i+1 {
			t.Fatalf("Connections = %d after %d connections", got, i+1)
		}
	}
	p.Reset()
	wantStats(t, p, pgtest.WireStats{})
	connect(t, p.DSN(dsn))
	wantStats(t, p, pgtest.WireStats{Connections: 1})
}

func TestProxyConcurrent(t *testing.T) {
	p, dsn := startProxy(t)
	const clients, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctx)
			for i := range rounds {
				if _, err := conn.Exec(ctx, "select 1"); err != nil {
					errs <- err
					return
				}
				if _, err := conn.Exec(ctx, "select $1::int", i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Per client: 5 Queries; 1 Parse; 5 Binds and Executes; 2 Syncs for the first call, 1 for each other.
	wantStats(t, p, pgtest.WireStats{
		Queries:     clients * rounds,
		Parses:      clients,
		Binds:       clients * rounds,
		Executes:    clients * rounds,
		Syncs:       clients * (rounds + 1),
		Connections: clients,
	})
	if got := len(p.Statements()); got != clients*(rounds+1) {
		t.Fatalf("len(Statements()) = %d, want %d", got, clients*(rounds+1))
	}
}

func TestProxyStopsAtCleanup(t *testing.T) {
	dsn := pgtest.DSN(t)
	var conn *pgx.Conn
	var addr string
	t.Run("proxy", func(t *testing.T) {
		p := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
		addr = p.Addr()
		var err error
		conn, err = pgx.Connect(context.Background(), p.DSN(dsn))
		if err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, "select 1"); err == nil {
		t.Fatal("a connection through a stopped proxy still works")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the stopped proxy still accepts connections at %s", addr)
	}
}

func TestProxyDSN(t *testing.T) {
	p := pgtest.StartProxy(t, "127.0.0.1:1") // nothing connects
	host, port, _ := net.SplitHostPort(p.Addr())
	addr := p.Addr()

	// A password file that knows the original servers; the proxy's address is not in it.
	passfile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passfile, []byte("db.example:6543:*:filed:from file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSFILE", passfile)
	t.Setenv("PGHOST", "env.example")
	t.Setenv("PGPORT", "7654")
	t.Setenv("PGUSER", "envuser")
	t.Setenv("PGDATABASE", "envdb")
	t.Setenv("PGSSLMODE", "require")

	for _, tc := range []struct {
		name, in, want     string
		user, password, db string
		params             map[string]string
	}{{
		name: "url",
		in:   "postgres://u:p%40ss@db.example:6543/mydb?sslmode=verify-full&application_name=app",
		want: "postgres://u:p%40ss@" + addr + "/mydb?application_name=app&sslmode=disable",
		user: "u", password: "p@ss", db: "mydb", params: map[string]string{"application_name": "app"},
	}, {
		name: "postgresql url, host and port in the query, no path",
		in:   "postgresql://?host=/var/run/postgresql&port=5433&user=q&ssl=true",
		want: "postgresql://" + addr + "?user=q&sslmode=disable",
		user: "q", db: "envdb",
	}, {
		name: "url with several hosts",
		in:   "postgres://u@a.example:1,b.example:2/mydb",
		want: "postgres://u@" + addr + "/mydb?sslmode=disable",
		user: "u", db: "mydb",
	}, {
		name: "url with ipv6 host and no user",
		in:   "postgres://[::1]:5432/mydb?application_name=x",
		want: "postgres://" + addr + "/mydb?application_name=x&sslmode=disable",
		user: "envuser", db: "mydb", params: map[string]string{"application_name": "x"},
	}, {
		name: "url with password from the password file",
		in:   "postgres://filed@db.example:6543/mydb",
		want: "postgres://filed@" + addr + "/mydb?sslmode=disable&password=from%20file",
		user: "filed", password: "from file", db: "mydb",
	}, {
		name: "keyword",
		in:   "host=db.example port=6543 user=u password='it\\'s' dbname=mydb sslmode=require",
		want: "host=db.example port=6543 user=u password='it\\'s' dbname=mydb sslmode=require host=" + host + " port=" + port + " sslmode=disable",
		user: "u", password: "it's", db: "mydb",
	}, {
		name: "keyword with password from the password file",
		in:   "host=db.example port=6543 user=filed dbname=mydb",
		want: "host=db.example port=6543 user=filed dbname=mydb host=" + host + " port=" + port + " sslmode=disable password='from file'",
		user: "filed", password: "from file", db: "mydb",
	}, {
		name: "empty uses the environment",
		in:   "",
		want: "host=" + host + " port=" + port + " sslmode=disable",
		user: "envuser", db: "envdb",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.DSN(tc.in)
			if got != tc.want {
				t.Errorf("DSN(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			cfg, err := pgx.ParseConfig(got)
			if err != nil {
				t.Fatal(err)
			}
			if gotAddr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))); gotAddr != addr {
				t.Errorf("rewritten DSN leads to %s, want the proxy %s", gotAddr, addr)
			}
			if cfg.TLSConfig != nil || len(cfg.Fallbacks) != 0 {
				t.Errorf("rewritten DSN uses TLS (%v) or fallbacks (%d)", cfg.TLSConfig != nil, len(cfg.Fallbacks))
			}
			if cfg.User != tc.user || cfg.Password != tc.password || cfg.Database != tc.db {
				t.Errorf("user, password, database = %q, %q, %q; want %q, %q, %q",
					cfg.User, cfg.Password, cfg.Database, tc.user, tc.password, tc.db)
			}
			for k, v := range tc.params {
				if cfg.RuntimeParams[k] != v {
					t.Errorf("RuntimeParams[%q] = %q, want %q", k, cfg.RuntimeParams[k], v)
				}
			}
		})
	}
}

// fatalRecorder records a Fatalf instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

func TestTargetAddr(t *testing.T) {
	t.Setenv("PGHOST", "")
	t.Setenv("PGPORT", "")
	for in, want := range map[string]string{
		"postgres://u@db.example:6543/x":        "db.example:6543",
		"postgres://u@db.example/x":             "db.example:5432",
		"postgres://[::1]:7000/x":               "[::1]:7000",
		"host=10.0.0.1 port=7001 user=u":        "10.0.0.1:7001",
		"postgres://a.example:1,b.example:2/db": "a.example:1",
	} {
		if got := pgtest.TargetAddr(t, in); got != want {
			t.Errorf("TargetAddr(%q) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{"host=/var/run/postgresql port=5432", "postgres:///db?host=/tmp"} {
		r := &fatalRecorder{TB: t}
		pgtest.TargetAddr(r, in)
		if !strings.Contains(r.msg, "unix socket") {
			t.Errorf("TargetAddr(%q) failed with %q, want a message about a unix socket", in, r.msg)
		}
	}
}

// errorRecorder records Errorf calls (from any goroutine) instead of failing the test.
type errorRecorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *errorRecorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func TestProxyReportsEncryptedConnections(t *testing.T) {
	dsn := pgtest.DSN(t)
	admin, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	var ssl string
	err = admin.QueryRow(context.Background(), "show ssl").Scan(&ssl)
	_ = admin.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ssl != "on" {
		t.Skip("the server does not offer TLS")
	}
	r := &errorRecorder{TB: t}
	p := pgtest.StartProxy(r, pgtest.TargetAddr(t, dsn))
	cfg, err := pgx.ParseConfig(p.DSN(dsn))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(p.Addr())
	tlsDSN := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=require", host, port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		tlsDSN += " password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(cfg.Password) + "'"
	}
	conn := connect(t, tlsDSN) // still forwarded
	if _, err := conn.Exec(context.Background(), "select 1"); err != nil {
		t.Fatal(err)
	}
	wantStats(t, p, pgtest.WireStats{Connections: 1}) // nothing could be read
	if errs := r.errors(); len(errs) != 1 || !strings.Contains(errs[0], "negotiated TLS") {
		t.Fatalf("the proxy reported %q, want one error about TLS", errs)
	}
}

// fakeServer is a PostgreSQL server of a sort: it refuses TLS and GSSAPI encryption with 'N',
// accepts any startup without a password, and answers Query with CommandComplete and Sync with
// ReadyForQuery. It records the types of the regular messages it receives.
func fakeServer(t *testing.T) (addr string, received func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []byte
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		be := pgproto3.NewBackend(c, c)
		for started := false; !started; {
			msg, err := be.ReceiveStartupMessage()
			if err != nil {
				t.Errorf("fake server: %v", err)
				return
			}
			switch msg.(type) {
			case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
				if _, err := c.Write([]byte{'N'}); err != nil {
					return
				}
			case *pgproto3.StartupMessage:
				started = true
			default:
				t.Errorf("fake server: unexpected %T", msg)
				return
			}
		}
		be.Send(&pgproto3.AuthenticationOk{})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		for {
			if err := be.Flush(); err != nil {
				return
			}
			msg, err := be.Receive()
			if err != nil {
				return
			}
			enc, _ := msg.Encode(nil)
			mu.Lock()
			got = append(got, enc[0])
			mu.Unlock()
			switch msg.(type) {
			case *pgproto3.Query:
				be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			case *pgproto3.Parse:
				be.Send(&pgproto3.ParseComplete{})
			case *pgproto3.Sync:
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			case *pgproto3.Terminate:
				return
			}
		}
	})
	return ln.Addr().String(), func() string {
		mu.Lock()
		defer mu.Unlock()
		return string(got)
	}
}

func TestProxyRefusedEncryptionRequests(t *testing.T) {
	addr, received := fakeServer(t)
	p := pgtest.StartProxy(t, addr)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))

	// An SSLRequest and a GSSENCRequest, each refused, before the startup message.
	for _, m := range []pgproto3.FrontendMessage{&pgproto3.SSLRequest{}, &pgproto3.GSSEncRequest{}} {
		req, err := m.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		var answer [1]byte
		if _, err := io.ReadFull(c, answer[:]); err != nil {
			t.Fatal(err)
		}
		if answer[0] != 'N' {
			t.Fatalf("answer to %T = %q, want 'N'", m, answer[0])
		}
	}

	fe := pgproto3.NewFrontend(c, c)
	fe.Send(&pgproto3.StartupMessage{
		ProtocolVersion: pgproto3.ProtocolVersionNumber,
		Parameters:      map[string]string{"user": "u", "database": "d"},
	})
	fe.SendQuery(&pgproto3.Query{String: "select 1"})
	fe.SendParse(&pgproto3.Parse{Name: "s1", Query: "select 2"})
	fe.SendSync(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for ready := 0; ready < 3; { // after the startup, after the Query, after the Sync
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			ready++
		}
	}
	wantStats(t, p, pgtest.WireStats{Queries: 1, Parses: 1, Syncs: 1, Connections: 1})
	wantStatements(t, p, "select 1", "select 2")
	if got := received(); got != "QPS" {
		t.Fatalf("the server received messages %q, want %q", got, "QPS")
	}
}

func TestProxyLargeMessages(t *testing.T) {
	p, dsn := startProxy(t)
	conn := connect(t, dsn)
	ctx := context.Background()
	big := strings.Repeat("x", 300_000)

	// A Query message longer than the proxy's read buffer.
	var n int
	if err := conn.QueryRow(ctx, "select length('"+big+"')", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != len(big) {
		t.Fatalf("simple query with a long text: %d, %v", n, err)
	}
	// A Bind message that the proxy streams rather than reads whole.
	if err := conn.QueryRow(ctx, "select length($1::text)", big).Scan(&n); err != nil || n != len(big) {
		t.Fatalf("extended query with a long parameter: %d, %v", n, err)
	}
	wantStats(t, p, pgtest.WireStats{Queries: 1, Parses: 1, Binds: 1, Executes: 1, Syncs: 2, Connections: 1})
	wantStatements(t, p, "select length('"+big+"')", "select length($1::text)")
}

func TestProxyCancelRequest(t *testing.T) {
	p, dsn := startProxy(t)
	conn := connect(t, dsn)
	ctx := context.Background()
	errs := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "select pg_sleep(30)")
		errs <- err
	}()
	// Cancel until it takes: a cancel request that arrives before the query starts is ignored.
	for p.Stats().Queries == 0 && len(errs) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancels := 0
	timeout := time.After(20 * time.Second)
wait:
	for {
		if err := conn.PgConn().CancelRequest(ctx); err != nil {
			t.Fatal(err)
		}
		cancels++
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "cancel") {
				t.Fatalf("Exec after a cancel request: %v", err)
			}
			break wait
		case <-time.After(200 * time.Millisecond):
		case <-timeout:
			t.Fatal("no cancel request reached the server")
		}
	}
	// Each cancel request came on a connection of its own, with no message.
	wantStats(t, p, pgtest.WireStats{Queries: 1, Connections: 1 + cancels})
}
