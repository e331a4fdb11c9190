package pgtest

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Codes of the untyped packets a client may send before its startup message.
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	cancelRequestCode = 80877102

	// maxStartupLen bounds a startup packet; the server itself allows 10000 bytes.
	maxStartupLen = 1 << 16
	// maxWholeLen is the largest message read whole before it is forwarded; longer ones
	// (other than Query and Parse, which are always read whole) are streamed.
	maxWholeLen = 1 << 16
)

// WireStats counts the frontend (client to server) protocol messages a Proxy relayed.
type WireStats struct {
	Queries     int // simple-protocol Query messages ('Q')
	Parses      int // extended-protocol Parse messages ('P')
	Binds       int // Bind messages ('B')
	Executes    int // Execute messages ('E')
	Syncs       int // Sync messages ('S')
	Connections int // client connections accepted, cancel-request connections included
}

// RoundTrips is the number of times the client waited for the server: Queries + Syncs.
// A client that waits after a Flush ('H'), or after CopyDone during COPY FROM STDIN, waits
// once more than this says.
func (s WireStats) RoundTrips() int { return s.Queries + s.Syncs }

// Proxy forwards TCP connections to a PostgreSQL server and counts the frontend messages it relays.
//
// It reads the client's stream message by message and forwards each message as soon as it has
// counted it; the server's stream is forwarded untouched. A count is therefore complete by the time
// the client has the server's reply. The counts cover every connection through the proxy.
//
// A connection that negotiates encryption cannot be read: it is still forwarded, but the proxy
// fails the test. Connect with DSN, which sets sslmode=disable.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener
	ctx    context.Context // cancelled when the proxy stops, to abandon dials
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // live client and server connections
	stats  WireStats
	stmts  []string
	hook   func(typ byte, stmt string) bool
}

// StartProxy listens on 127.0.0.1:0 and forwards each accepted connection to target ("host:port").
// It stops at t.Cleanup: it closes the listener and every live connection, and waits for its
// goroutines.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: proxy: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{t: t, target: target, ln: ln, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.stop)
	return p
}

// Addr returns the proxy's listening address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stats returns the counts since the start or the last Reset.
func (p *Proxy) Stats() WireStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Reset sets every count to zero and forgets the statements seen so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats = WireStats{}
	p.stmts = nil
}

// Statements returns the SQL text of every simple Query ('Q') and Parse ('P') message since the
// start or the last Reset, in the order the proxy relayed them.
func (p *Proxy) Statements() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stmts)
}

// SetIntercept makes the proxy call f with each typed message a client sends, after counting it
// and before forwarding it: typ is the message type ('Q', 'P', 'B', 'E', 'S', ...), and stmt the
// SQL text of a Query or Parse message ("" for the others). When f returns false the message is
// not forwarded, and both sides of that connection are closed, as if the network failed just before
// it. f runs on the goroutine of the connection, which waits for it; a nil f removes the hook.
func (p *Proxy) SetIntercept(f func(typ byte, stmt string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = f
}

// Sever closes every live connection through the proxy, both sides, as a network failure would;
// the proxy keeps accepting new ones.
func (p *Proxy) Sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// errDropped ends a connection whose message the intercept hook dropped.
var errDropped = errors.New("pgtest: proxy: message dropped by the intercept hook")

// DSN returns dsn rewritten to connect through the proxy: its host and port replaced by the
// proxy's, and sslmode=disable so the traffic can be read. dsn may be in URL form
// (postgres://...), keyword/value form, or empty (the libpq environment; the result is then in
// keyword/value form). A password dsn leaves to the password file, which is looked up by host
// and port, is written into the result. DSN fails the test when dsn cannot be parsed.
func (p *Proxy) DSN(dsn string) string {
	p.t.Helper()
	orig, err := pgx.ParseConfig(dsn)
	if err != nil {
		p.t.Fatalf("pgtest: Proxy.DSN: %v", err)
		return ""
	}
	host, portStr, _ := net.SplitHostPort(p.Addr())
	port, _ := strconv.Atoi(portStr)

	isURL := strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
	var out string
	if isURL {
		out = rewriteURL(dsn, p.Addr())
	} else {
		out = WithParams(dsn, "host", host, "port", portStr, "sslmode", "disable")
	}
	cfg, err := pgx.ParseConfig(out)
	if err != nil {
		p.t.Fatalf("pgtest: Proxy.DSN: rewritten %q: %v", dsn, err)
		return ""
	}
	if orig.Password != "" && cfg.Password == "" {
		out = WithParams(out, "password", orig.Password)
		if cfg, err = pgx.ParseConfig(out); err != nil {
			p.t.Fatalf("pgtest: Proxy.DSN: rewritten %q: %v", dsn, err)
			return ""
		}
	}
	if cfg.Host != host || int(cfg.Port) != port || cfg.TLSConfig != nil || len(cfg.Fallbacks) != 0 {
		p.t.Fatalf("pgtest: Proxy.DSN: rewriting %q did not lead to the proxy %s without TLS (host %q, port %d, TLS %t, %d fallbacks)",
			dsn, p.Addr(), cfg.Host, cfg.Port, cfg.TLSConfig != nil, len(cfg.Fallbacks))
		return ""
	}
	return out
}

// rewriteURL replaces the hosts of a postgres:// URL with addr, drops the host, hostaddr, port,
// ssl and sslmode query parameters, and adds sslmode=disable. It splits the URL as pgx (and
// libpq) do.
func rewriteURL(dsn, addr string) string {
	scheme, rest, _ := strings.Cut(dsn, "://")
	userinfo := ""
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		userinfo, rest = rest[:i+1], rest[i+1:]
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[i:]
	} else {
		rest = ""
	}
	path, query, _ := strings.Cut(rest, "?")
	var params []string
	for pair := range strings.SplitSeq(query, "&") {
		if pair == "" {
			continue
		}
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.PathUnescape(key); err == nil {
			key = k
		}
		switch key {
		case "host", "hostaddr", "port", "ssl", "sslmode":
			continue
		}
		params = append(params, pair)
	}
	params = append(params, "sslmode=disable")
	return scheme + "://" + userinfo + addr + path + "?" + strings.Join(params, "&")
}

// TargetAddr returns the "host:port" of the server dsn points at (its first host), for
// StartProxy. It fails the test when dsn cannot be parsed or names a unix socket, which a TCP
// proxy cannot reach.
func TargetAddr(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgtest: TargetAddr: %v", err)
		return ""
	}
	network, addr := pgconn.NetworkAddress(cfg.Host, cfg.Port)
	if network != "tcp" {
		t.Fatalf("pgtest: TargetAddr: the connection string points at the unix socket %s; "+
			"a wire proxy needs a TCP server: give a host name or address (e.g. %s=postgres://postgres@127.0.0.1:5432)",
			addr, EnvDSN)
		return ""
	}
	return addr
}

func (p *Proxy) stop() {
	p.mu.Lock()
	p.closed = true
	p.cancel()
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track adds c to the live connections, or closes it and returns false when the proxy has stopped.
func (p *Proxy) track(c net.Conn, client bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	if client {
		p.stats.Connections++
	}
	return true
}

// drop closes c and removes it from the live connections; it may be called more than once.
func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Errorf("pgtest: proxy: accept: %v", err)
			}
			return
		}
		if !p.track(c, true) {
			return
		}
		p.wg.Add(1) // the accept loop's own count keeps the counter above zero
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.drop(client)
	d := net.Dialer{Timeout: 30 * time.Second}
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		if p.ctx.Err() == nil {
			p.t.Logf("pgtest: proxy: dial %s: %v", p.target, err)
		}
		return
	}
	if !p.track(server, false) {
		return
	}
	defer p.drop(server)

	br := bufio.NewReader(client)
	readable, err := p.startup(br, client, server)
	if err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(client, server)
		p.drop(client) // the server hung up: end the client side too
	}()
	if readable {
		_ = p.relay(br, server)
	} else {
		_, _ = io.Copy(server, br)
	}
	p.drop(server) // the client hung up (or the proxy stopped): end the server side too
	<-done
}

// startup forwards what the client sends before its regular messages: any SSLRequest or
// GSSENCRequest (with the server's one-byte answer), then a StartupMessage or CancelRequest.
// It reports whether the rest of the client stream is made of readable, typed messages.
func (p *Proxy) startup(br *bufio.Reader, client, server net.Conn) (bool, error) {
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return false, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		code := binary.BigEndian.Uint32(hdr[4:])
		if n < 8 || n > maxStartupLen {
			// Not a startup packet: most likely a TLS ClientHello (sslnegotiation=direct).
			p.t.Errorf("pgtest: proxy: a client sent an unreadable first packet (% x); its messages are not counted; "+
				"connect with Proxy.DSN, which sets sslmode=disable", hdr[:])
			_, err := server.Write(hdr[:])
			return false, err
		}
		packet := make([]byte, n)
		copy(packet, hdr[:])
		if _, err := io.ReadFull(br, packet[8:]); err != nil {
			return false, err
		}
		if _, err := server.Write(packet); err != nil {
			return false, err
		}
		switch {
		case n == 8 && (code == sslRequestCode || code == gssEncRequestCode):
			var answer [1]byte
			if _, err := io.ReadFull(server, answer[:]); err != nil {
				return false, err
			}
			if _, err := client.Write(answer[:]); err != nil {
				return false, err
			}
			if answer[0] == 'N' {
				continue // refused: the client goes on in the clear
			}
			what := "TLS"
			if code == gssEncRequestCode {
				what = "GSSAPI encryption"
			}
			p.t.Errorf("pgtest: proxy: a client negotiated %s (server answered %q); its messages are not counted; "+
				"connect with Proxy.DSN, which sets sslmode=disable", what, answer[0])
			return false, nil
		case code == cancelRequestCode:
			return false, nil // nothing else follows; the server closes the connection
		case code>>16 == 3:
			return true, nil // StartupMessage, protocol 3.x
		default:
			p.t.Errorf("pgtest: proxy: a client sent an unknown startup code %d; its messages are not counted", code)
			return false, nil
		}
	}
}

// relay forwards the client's typed messages to server one at a time, counting each before
// forwarding it.
func (p *Proxy) relay(br *bufio.Reader, server net.Conn) error {
	buf := make([]byte, 0, 512)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		typ := hdr[0]
		n := int64(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 {
			p.t.Errorf("pgtest: proxy: malformed client message %q with length %d", typ, n)
			return fmt.Errorf("malformed message length %d", n)
		}
		body := n - 4
		if typ != 'Q' && typ != 'P' && body > maxWholeLen {
			if !p.count(typ, nil) {
				return errDropped
			}
			if _, err := server.Write(hdr[:]); err != nil {
				return err
			}
			if _, err := io.CopyN(server, br, body); err != nil {
				return err
			}
			continue
		}
		buf = slices.Grow(buf[:0], 5+int(body))[:5+int(body)]
		copy(buf, hdr[:])
		if _, err := io.ReadFull(br, buf[5:]); err != nil {
			return err
		}
		if !p.count(typ, buf[5:]) {
			return errDropped
		}
		if _, err := server.Write(buf); err != nil {
			return err
		}
	}
}

// count counts a message, and reports whether the intercept hook, if any, lets it through.
func (p *Proxy) count(typ byte, body []byte) bool {
	p.mu.Lock()
	var query string
	switch typ {
	case 'Q':
		query, _ = cstring(body)
		p.stats.Queries++
		p.stmts = append(p.stmts, query)
	case 'P':
		_, rest := cstring(body) // statement name
		query, _ = cstring(rest)
		p.stats.Parses++
		p.stmts = append(p.stmts, query)
	case 'B':
		p.stats.Binds++
	case 'E':
		p.stats.Executes++
	case 'S':
		p.stats.Syncs++
	}
	hook := p.hook
	p.mu.Unlock()
	return hook == nil || hook(typ, query)
}

// cstring splits b after its first NUL-terminated string (all of b when there is no NUL).
func cstring(b []byte) (string, []byte) {
	i := slices.Index(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}
