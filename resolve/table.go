package resolve

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The queries of the domain table. Each returns rows of rowColumns, with the tenant's primary
// domain joined; all name public explicitly, so they work whatever the connection's search path.
const (
	rowColumns = `d.domain, d.folder, d.tenant, d.redirect_to_primary, coalesce(p.domain, ''), coalesce(p.folder, '')`
	primaryOf  = `LEFT JOIN public.pgschemas_domain p ON p.tenant = d.tenant AND p.is_primary`

	hostQuery    = `SELECT ` + rowColumns + ` FROM public.pgschemas_domain d ` + primaryOf + ` WHERE d.domain = $1`
	preloadQuery = `SELECT ` + rowColumns + ` FROM public.pgschemas_domain d ` + primaryOf + ` ORDER BY d.domain LIMIT $1`
	// nameQuery gives a tenant as one row without a domain.
	nameQuery = `SELECT '', '', t.schema_name, false, coalesce(p.domain, ''), coalesce(p.folder, '')
		FROM public.pgschemas_tenant t LEFT JOIN public.pgschemas_domain p ON p.tenant = t.schema_name AND p.is_primary
		WHERE t.schema_name = $1`
	// tenantsQuery gives the tenants that the rows of some domains name, after a change to them.
	tenantsQuery = `SELECT DISTINCT tenant FROM public.pgschemas_domain WHERE domain = ANY($1)`
)

func (r *Resolver) loadHost(ctx context.Context, host string) ([]row, error) {
	rows, err := r.query(ctx, hostQuery, host)
	if err != nil {
		return nil, fmt.Errorf("resolve: look up host %q: %w", host, err)
	}
	return rows, nil
}

func (r *Resolver) loadName(ctx context.Context, key string) ([]row, error) {
	schema := strings.TrimPrefix(key, nameKeyPrefix)
	rows, err := r.query(ctx, nameQuery, schema)
	if err != nil {
		return nil, fmt.Errorf("resolve: look up tenant %q: %w", schema, err)
	}
	return rows, nil
}

// query runs q and returns its rows, each checked: a row that names a schema that is never routed
// gets an error, and is logged.
func (r *Resolver) query(ctx context.Context, q string, args ...any) ([]row, error) {
	rs, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var rows []row
	for rs.Next() {
		var rw row
		if err := rs.Scan(&rw.domain, &rw.folder, &rw.schema, &rw.redirect, &rw.primaryDomain, &rw.primaryFolder); err != nil {
			return nil, err
		}
		if err := r.routable(rw.schema); err != nil {
			rw.err = fmt.Errorf("%w: domain %q, folder %q: %w", ErrNoTenant, rw.domain, rw.folder, err)
			r.warn("pgschemas: a domain row names a schema that is never routed", "err", rw.err)
		}
		rows = append(rows, rw)
	}
	return rows, rs.Err()
}

// Preload fills the cache from the domain table in one query, up to Options.CacheSize rows in
// domain order, so that a process that starts under load does not send one query per host. Hosts
// it leaves out load on demand as usual. With LISTEN on, it first waits (until ctx ends) for the
// LISTEN connection, since the cache is emptied when that connection is made. It returns how many
// rows it cached; it stops early, without an error, when the domain table changes during the load
// (answers read before a change could be stale; the rest then loads on demand). After Close it
// returns ErrClosed.
func (r *Resolver) Preload(ctx context.Context) (int, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	if !r.dynamic {
		return 0, nil
	}
	if err := r.waitListening(ctx); err != nil {
		return 0, err
	}
	epoch := r.cache.currentEpoch()
	limit := r.cache.max + 1 // one more than fits, to know when the last host may be cut short
	rows, err := r.query(ctx, preloadQuery, limit)
	if err != nil {
		return 0, fmt.Errorf("resolve: preload the domain table: %w", err)
	}
	if len(rows) == limit {
		last := rows[len(rows)-1].domain
		for len(rows) > 0 && rows[len(rows)-1].domain == last {
			rows = rows[:len(rows)-1]
		}
	}
	n := 0
	for len(rows) > 0 {
		i := 1
		for i < len(rows) && rows[i].domain == rows[0].domain {
			i++
		}
		if !r.cache.insert(rows[0].domain, rows[:i], epoch) {
			r.warn("pgschemas: the domain table changed during Preload; the rest loads on demand", "cached", n)
			return n, nil
		}
		n += i
		rows = rows[i:]
	}
	return n, nil
}

// waitListening waits until the listener is up, when there is one.
func (r *Resolver) waitListening(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for r.listens && !r.listening.Load() {
		if r.closed.Load() {
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("resolve: waiting for the LISTEN connection: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
	return nil
}
