package resolve

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// nameKeyPrefix starts the cache keys of Lookup's schema names, which no host can start with.
const nameKeyPrefix = "\x00"

// evictSample is how many entries one eviction looks at.
const evictSample = 16

// cache holds the domain table's answers by host (and Lookup's by name), bounded in weight and age.
//
// Rows name tenants through a shared *tenantRec per tenant, which carries the tenant's primary
// domain. A change can make cached answers wrong in two ways: the rows of a host changed (the
// notification names that host), or a tenant's primary domain changed (the notification names the
// old or the new primary domain, and the tenant may be cached under other hosts). invalidate
// therefore drops the host's entry and marks stale every tenant that the host's rows named before
// or name now, and every tenant whose primary was that host; an answer through a stale tenant is a
// miss. Every invalidation bumps epoch, and a load that started in an older epoch answers its
// callers but is not cached, since it may have read the table before the change.
type cache struct {
	mu        sync.RWMutex
	hosts     map[string]*entry
	tenants   map[string]*tenantRec   // the current record of each cached tenant
	byPrimary map[string][]*tenantRec // records by their primary domain
	inflight  map[string]*call
	weight    int
	max       int
	epoch     uint64

	ttl   time.Duration
	now   func() time.Duration // monotonic time; replaced in tests
	loads atomic.Uint64
}

// entry is the answer for one host (or name): its rows, sorted by folder; none is a negative answer.
type entry struct {
	key     string
	routes  []route // inline[:] for one route, the common case: one allocation, fewer cache misses
	inline  [1]route
	expires time.Duration
	used    atomic.Bool // set by hits, cleared by eviction sweeps
}

// route is one domain table row.
type route struct {
	folder   string
	redirect bool
	rec      *tenantRec // nil when err is set
	err      error      // the row names a schema that is never routed
}

// tenantRec is what the cache knows of one tenant.
type tenantRec struct {
	schema                       string
	primaryDomain, primaryFolder string
	refs                         int // routes of cached entries that point here
	stale                        atomic.Bool
}

// row is one row read from the table, before it joins the cache.
type row struct {
	domain, folder, schema       string
	redirect                     bool
	primaryDomain, primaryFolder string
	err                          error
}

// call is one load in flight, which the callers that miss the same key share.
type call struct {
	waiters int // callers sharing the load; read by tests
	done    chan struct{}
	e       *entry
	err     error
}

func newCache(max int, ttl time.Duration) *cache {
	start := time.Now()
	return &cache{
		hosts: map[string]*entry{}, tenants: map[string]*tenantRec{}, byPrimary: map[string][]*tenantRec{},
		inflight: map[string]*call{}, max: max, ttl: ttl,
		now: func() time.Duration { return time.Since(start) },
	}
}

// get returns the fresh entry of key. It allocates nothing.
func (c *cache) get(key []byte) (*entry, bool) {
	now := c.now()
	c.mu.RLock()
	e := c.hosts[string(key)]
	c.mu.RUnlock()
	if e == nil || now >= e.expires {
		return nil, false
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e, true
}

// match returns the route of folder when hasFolder and the host has it, else the route without a
// folder, else nil. A nil entry has no routes.
func (e *entry) match(folder string, hasFolder bool) *route {
	if e == nil {
		return nil
	}
	if hasFolder {
		if rt := e.route(folder); rt != nil {
			return rt
		}
	}
	return e.route("")
}

func (e *entry) route(folder string) *route {
	if len(e.routes) == 1 {
		if e.routes[0].folder == folder {
			return &e.routes[0]
		}
		return nil
	}
	i, ok := slices.BinarySearchFunc(e.routes, folder, func(rt route, f string) int { return cmp.Compare(rt.folder, f) })
	if !ok {
		return nil
	}
	return &e.routes[i]
}

func (e *entry) weight() int { return max(1, len(e.routes)) }

// stale reports whether rt's tenant changed since rt was cached.
func (rt *route) stale() bool { return rt != nil && rt.rec != nil && rt.rec.stale.Load() }

// tenant returns the Tenant that rt routes to on host.
func (rt *route) tenant(host string) (Tenant, error) {
	if rt.err != nil {
		return Tenant{}, rt.err
	}
	t := Tenant{
		Schema: rt.rec.schema, Kind: KindDynamic, Domain: host, Folder: rt.folder,
		PrimaryDomain: rt.rec.primaryDomain, PrimaryFolder: rt.rec.primaryFolder,
	}
	if t.PrimaryDomain == "" {
		t.PrimaryDomain, t.PrimaryFolder = host, rt.folder
		return t, nil
	}
	t.RedirectToPrimary = rt.redirect && host != "" && (t.PrimaryDomain != host || t.PrimaryFolder != rt.folder)
	return t, nil
}

// load runs fetch for key once for all the callers that miss key at the same time, caches its
// answer, and returns it. fetch runs with a context of its own (bounded by loadTimeout); each caller
// waits until ctx ends.
func (c *cache) load(ctx context.Context, key string, fetch func(context.Context, string) ([]row, error)) (*entry, error) {
	c.mu.Lock()
	cl := c.inflight[key]
	if cl == nil {
		cl = &call{done: make(chan struct{})}
		c.inflight[key] = cl
		epoch := c.epoch
		go func() {
			fctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
			defer cancel()
			c.loads.Add(1)
			rows, err := fetch(fctx, key)
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.inflight[key] == cl {
				delete(c.inflight, key)
			}
			cl.err = err
			if err == nil {
				cl.e, _ = c.insertLocked(key, rows, epoch)
			}
			close(cl.done)
		}()
	}
	cl.waiters++
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.e, cl.err
	case <-ctx.Done():
		return nil, fmt.Errorf("resolve: waiting for the domain table: %w", context.Cause(ctx))
	}
}

// insertLocked makes the entry of key from rows, and caches it (kept) unless an invalidation came
// since epoch or it weighs more than the whole cache. c.mu is held.
func (c *cache) insertLocked(key string, rows []row, epoch uint64) (e *entry, kept bool) {
	e = &entry{key: key, expires: c.now() + c.ttl}
	if e.routes = e.inline[:]; len(rows) != 1 {
		e.routes = make([]route, len(rows))
	}
	keep := epoch == c.epoch && e.weight() <= c.max
	if keep {
		// Make room first: an eviction may forget a tenant record that the new rows reuse.
		if old := c.hosts[key]; old != nil {
			c.removeLocked(old)
		}
		for c.weight+e.weight() > c.max {
			c.evictLocked()
		}
	}
	for i, rw := range rows {
		e.routes[i] = route{folder: rw.folder, redirect: rw.redirect, err: rw.err}
		if rw.primaryDomain == key {
			rw.primaryDomain = key // share the key's bytes: most rows are their tenant's primary
		}
		if rw.err == nil {
			e.routes[i].rec = c.recLocked(rw, keep)
		}
	}
	slices.SortFunc(e.routes, func(a, b route) int { return cmp.Compare(a.folder, b.folder) })
	if keep {
		c.hosts[key] = e
		c.weight += e.weight()
		for _, rt := range e.routes {
			if rt.rec != nil {
				rt.rec.refs++
			}
		}
	}
	return e, keep
}

// recLocked returns the record of rw's tenant: the cached one when it still says the same, else a
// new one, registered when register is set.
func (c *cache) recLocked(rw row, register bool) *tenantRec {
	old := c.tenants[rw.schema]
	if old != nil && old.primaryDomain == rw.primaryDomain && old.primaryFolder == rw.primaryFolder {
		return old
	}
	rec := &tenantRec{schema: rw.schema, primaryDomain: rw.primaryDomain, primaryFolder: rw.primaryFolder}
	if register {
		if old != nil {
			c.staleLocked(old)
		}
		c.tenants[rec.schema] = rec
		if rec.primaryDomain != "" {
			c.byPrimary[rec.primaryDomain] = append(c.byPrimary[rec.primaryDomain], rec)
		}
	}
	return rec
}

func (c *cache) removeLocked(e *entry) {
	delete(c.hosts, e.key)
	c.weight -= e.weight()
	for _, rt := range e.routes {
		if rt.rec != nil {
			if rt.rec.refs--; rt.rec.refs == 0 {
				c.unregisterLocked(rt.rec)
			}
		}
	}
}

// evictLocked drops one entry: among a sample (a map's range starts at random), the first that
// expired or was not used since the last sweep, else the first sampled. It clears the used marks
// it passes, so an entry survives one sweep at most without a hit.
func (c *cache) evictLocked() {
	now := c.now()
	var victim *entry
	n := 0
	for _, e := range c.hosts {
		if now >= e.expires || !e.used.Load() {
			victim = e
			break
		}
		e.used.Store(false)
		if victim == nil {
			victim = e
		}
		if n++; n == evictSample {
			break
		}
	}
	c.removeLocked(victim)
}

// staleLocked marks rec stale and forgets it.
func (c *cache) staleLocked(rec *tenantRec) {
	rec.stale.Store(true)
	c.unregisterLocked(rec)
}

func (c *cache) unregisterLocked(rec *tenantRec) {
	if c.tenants[rec.schema] == rec {
		delete(c.tenants, rec.schema)
	}
	if recs := c.byPrimary[rec.primaryDomain]; len(recs) > 0 {
		recs = slices.DeleteFunc(recs, func(r *tenantRec) bool { return r == rec })
		if len(recs) == 0 {
			delete(c.byPrimary, rec.primaryDomain)
		} else {
			c.byPrimary[rec.primaryDomain] = recs
		}
	}
}

// invalidate forgets what changes to the rows of domains may have made wrong. tenants are the
// tenants that those rows name now.
func (c *cache) invalidate(domains, tenants []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.inflight)
	for _, d := range domains {
		if e := c.hosts[d]; e != nil {
			for _, rt := range e.routes {
				if rt.rec != nil {
					c.staleLocked(rt.rec)
				}
			}
			c.removeLocked(e)
		}
		for _, rec := range slices.Clone(c.byPrimary[d]) {
			c.staleLocked(rec)
		}
	}
	for _, t := range tenants {
		if rec := c.tenants[t]; rec != nil {
			c.staleLocked(rec)
		}
		if e := c.hosts[nameKeyPrefix+t]; e != nil {
			c.removeLocked(e)
		}
	}
}

// flush forgets everything, for when changes may have been missed.
func (c *cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.inflight)
	clear(c.hosts)
	clear(c.tenants)
	clear(c.byPrimary)
	c.weight = 0
}

// currentEpoch is the epoch to pass to insert for a load that starts now.
func (c *cache) currentEpoch() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// insert caches rows as the entry of key, as a load begun in epoch would, and reports whether it did.
func (c *cache) insert(key string, rows []row, epoch uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, kept := c.insertLocked(key, rows, epoch)
	return kept
}

func (c *cache) stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Stats{Loads: c.loads.Load(), Entries: c.weight, Hosts: len(c.hosts)}
}
