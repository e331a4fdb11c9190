package resolve

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/routing"
)

// The LISTEN connection's timing.
const (
	minBackoff = 100 * time.Millisecond // the wait before reconnecting, doubled after each failure
	maxBackoff = 10 * time.Second
	// healthEvery is how long the listener waits for a notification before it checks, with a
	// query, that the connection is alive: a server that vanished without closing the socket is
	// noticed within healthEvery + healthTimeout.
	healthEvery   = 30 * time.Second
	healthTimeout = 10 * time.Second
	// drainMax bounds how many notifications already received one invalidation handles at once.
	drainMax = 1000
)

// listen keeps a LISTEN connection up until ctx ends, reconnecting after failures.
func (r *Resolver) listen(ctx context.Context) {
	defer close(r.done)
	backoff := minBackoff
	for {
		connected, err := r.listenOnce(ctx)
		r.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = minBackoff
		}
		r.warn("pgschemas: the LISTEN connection failed; the cache follows its TTL until it is back",
			"err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listenOnce takes a connection from the pool, LISTENs on it and handles notifications until ctx
// ends or the connection fails. The connection is never given back for reuse: it is discarded, so
// that no pooled connection keeps listening.
func (r *Resolver) listenOnce(ctx context.Context) (connected bool, err error) {
	c, err := r.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	err = rawPgx(ctx, c, func(pc *pgx.Conn) error {
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{routing.DomainChannel}.Sanitize()); err != nil {
			return err
		}
		connected = true
		r.connects.Add(1)
		r.cache.flush() // changes made while nobody listened were missed
		r.listening.Store(true)
		return r.serve(ctx, pc)
	})
	return connected, err
}

// serve handles notifications on pc until ctx ends or pc fails.
func (r *Resolver) serve(ctx context.Context, pc *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, r.healthEvery)
		n, err := pc.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
		case wctx.Err() != nil:
			hctx, cancel := context.WithTimeout(ctx, healthTimeout)
			_, err = pc.Exec(hctx, "SELECT 1")
			cancel()
			if err != nil {
				return err
			}
			continue
		default:
			return err
		}
		if err := r.invalidate(ctx, pc, drain(pc, n.Payload)); err != nil {
			r.cache.flush()
			return err
		}
	}
}

// drain returns first and the payloads of the notifications pc has already received, sorted and
// without repeats, without waiting for more.
func drain(pc *pgx.Conn, first string) []string {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	domains := []string{first}
	for len(domains) < drainMax {
		n, err := pc.WaitForNotification(done)
		if err != nil || n == nil {
			break
		}
		domains = append(domains, n.Payload)
	}
	slices.Sort(domains)
	return slices.Compact(domains)
}

// invalidate drops the cached answers that changes may have made wrong: payloads are the domains
// whose rows changed, and the tenants (routing.TenantPayloadPrefix) that changed otherwise,
// such as by a rename.
func (r *Resolver) invalidate(ctx context.Context, pc *pgx.Conn, payloads []string) error {
	var domains, named []string
	for _, p := range payloads {
		if t, ok := strings.CutPrefix(p, routing.TenantPayloadPrefix); ok {
			named = append(named, t)
		} else {
			domains = append(domains, p)
		}
	}
	rows, err := pc.Query(ctx, tenantsQuery, domains)
	if err != nil {
		return err
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	r.cache.invalidate(domains, append(tenants, named...))
	r.notifications.Add(uint64(len(payloads)))
	return nil
}

// errNotStdlib says that a connection is not pgx stdlib's.
var errNotStdlib = errors.New("not a pgx stdlib connection")

// rawPgx runs fn with the *pgx.Conn behind c, which comes from pgx's stdlib driver or from the
// pgschemas driver (New checked that), and makes database/sql discard the connection afterwards.
func rawPgx(ctx context.Context, c *sql.Conn, fn func(*pgx.Conn) error) error {
	run := func(pc *pgx.Conn) error { return discard{fn(pc)} }
	err := c.Raw(func(dc any) error {
		if sc, ok := dc.(*stdlib.Conn); ok {
			return run(sc.Conn())
		}
		return errNotStdlib
	})
	if errors.Is(err, errNotStdlib) {
		err = driver.RawConn(ctx, c, run)
	}
	var d discard
	if errors.As(err, &d) {
		return d.err
	}
	return err
}

// discard is fn's error as rawPgx gives it to database/sql: it is driver.ErrBadConn to errors.Is,
// so that the connection is closed rather than pooled, and it keeps the cause.
type discard struct{ err error }

func (d discard) Error() string {
	if d.err == nil {
		return "the LISTEN connection is closed"
	}
	return d.err.Error()
}

func (d discard) Is(target error) bool { return target == sqldriver.ErrBadConn }
func (d discard) Unwrap() error        { return d.err }
