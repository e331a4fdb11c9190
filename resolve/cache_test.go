package resolve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/schemaset"
)

// dynamicConfig declares dynamic tenants only.
func dynamicConfig() *schemaset.Config { return &schemaset.Config{Dynamic: &schemaset.Dynamic{}} }

// fakeClock replaces the cache's clock; advance moves it.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) read() time.Duration     { return time.Duration(c.now.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.now.Add(int64(d)) }

// withClock gives res's cache a fake clock. Call it before res is used.
func withClock(res *Resolver) *fakeClock {
	c := &fakeClock{}
	res.cache.now = c.read
	return c
}

// resolveSchema resolves host and path and returns the schema, or "error: ..." .
func resolveSchema(res *Resolver, host, path string) string {
	t, _, err := res.Resolve(context.Background(), host, path)
	if err != nil {
		return "error: " + err.Error()
	}
	return t.Schema
}

func TestCacheServesFromMemory(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	addTenant(t, db, "acme")
	addTenant(t, db, "globex")
	addDomain(t, db, "acme.test", "", "acme", true, false)
	addDomain(t, db, "shared.test", "globex", "globex", false, false)
	res := newResolver(t, dynamicConfig(), db, Options{DisableListen: true})
	for range 3 {
		for _, c := range []struct{ host, path string }{
			{"acme.test", "/"}, {"ACME.test:80", "/a/b"}, {"shared.test", "/globex/x"}, {"shared.test", "/other/"},
			{"shared.test", "/"}, {"unknown.test", "/"}, {"unknown.test", "/x/"},
		} {
			res.Resolve(context.Background(), c.host, c.path)
		}
		res.Lookup(context.Background(), "acme")
		res.Lookup(context.Background(), "nobody")
	}
	// One query per host and per name, whatever the folders, negative answers included.
	if s := res.Stats(); s.Loads != 5 || s.Hosts != 5 {
		t.Fatalf("Stats = %+v, want 5 loads and 5 hosts", s)
	}
}

func TestCacheBoundedInSize(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	addTenant(t, db, "big")
	for i := range 4 {
		addDomain(t, db, "big.test", fmt.Sprint("f", i), "big", false, false)
	}
	res := newResolver(t, dynamicConfig(), db, Options{DisableListen: true, CacheSize: 5})
	for i := range 50 {
		resolveSchema(res, fmt.Sprintf("unknown%d.test", i), "/")
		if s := res.Stats(); s.Entries > 5 || s.Hosts > 5 {
			t.Fatalf("after %d hosts: Stats = %+v, want at most 5 entries", i+1, s)
		}
	}
	// A host with four folders weighs four.
	if got := resolveSchema(res, "big.test", "/f3/"); got != "big" {
		t.Fatalf("big.test/f3: %s", got)
	}
	if s := res.Stats(); s.Entries > 5 || s.Hosts > 2 {
		t.Fatalf("Stats = %+v, want big.test and at most one other host", s)
	}
	// A host heavier than the whole cache answers, uncached.
	addDomain(t, db, "big.test", "f4", "big", false, false)
	addDomain(t, db, "big.test", "f5", "big", false, false)
	res2 := newResolver(t, dynamicConfig(), db, Options{DisableListen: true, CacheSize: 5})
	for range 2 {
		if got := resolveSchema(res2, "big.test", "/f5/"); got != "big" {
			t.Fatalf("big.test/f5: %s", got)
		}
	}
	if s := res2.Stats(); s.Loads != 2 || s.Entries != 0 {
		t.Fatalf("Stats = %+v, want 2 loads and nothing cached", s)
	}
}

func TestCacheBoundedInTime(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	addTenant(t, db, "acme")
	addTenant(t, db, "globex")
	addDomain(t, db, "acme.test", "", "acme", false, false)
	res := newResolver(t, dynamicConfig(), db, Options{DisableListen: true, TTL: time.Minute})
	clock := withClock(res)
	if got := resolveSchema(res, "acme.test", "/"); got != "acme" {
		t.Fatalf("acme.test: %s", got)
	}
	if got := resolveSchema(res, "new.test", "/"); !errors.Is(errFrom(res, "new.test"), ErrNoTenant) {
		t.Fatalf("new.test: %s", got)
	}
	exec(t, db, `UPDATE public.pgschemas_domain SET tenant = 'globex' WHERE domain = 'acme.test'`)
	addDomain(t, db, "new.test", "", "acme", false, false)
	clock.advance(time.Minute - time.Nanosecond)
	if a, n := resolveSchema(res, "acme.test", "/"), resolveSchema(res, "new.test", "/"); a != "acme" || n == "acme" {
		t.Fatalf("within the TTL: acme.test %s, new.test %s; want the cached answers", a, n)
	}
	clock.advance(time.Nanosecond)
	if a, n := resolveSchema(res, "acme.test", "/"), resolveSchema(res, "new.test", "/"); a != "globex" || n != "acme" {
		t.Fatalf("after the TTL: acme.test %s, new.test %s; want globex and acme", a, n)
	}
}

// errFrom returns Resolve's error for host.
func errFrom(res *Resolver, host string) error {
	_, _, err := res.Resolve(context.Background(), host, "/")
	return err
}

func TestConcurrentMissesShareOneQuery(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	addTenant(t, db, "acme")
	addDomain(t, db, "acme.test", "", "acme", false, false)
	res := newResolver(t, dynamicConfig(), db, Options{DisableListen: true})

	// Hold the domain table so that the first query waits, while the other callers arrive.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`LOCK TABLE public.pgschemas_domain IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	const callers = 20
	var wg sync.WaitGroup
	got := make([]string, callers)
	for i := range callers {
		wg.Go(func() { got[i] = resolveSchema(res, "acme.test", fmt.Sprint("/", i)) })
	}
	waitFor(t, 10*time.Second, "every caller waits on the one load", func() bool {
		res.cache.mu.RLock()
		defer res.cache.mu.RUnlock()
		cl := res.cache.inflight["acme.test"]
		return cl != nil && cl.waiters == callers
	})
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, g := range got {
		if g != "acme" {
			t.Fatalf("caller %d: %s", i, g)
		}
	}
	if s := res.Stats(); s.Loads != 1 {
		t.Fatalf("Loads = %d, want 1", s.Loads)
	}
}

func TestResolveContextEnds(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	res := newResolver(t, dynamicConfig(), db, Options{DisableListen: true})
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`LOCK TABLE public.pgschemas_domain IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := res.Resolve(ctx, "acme.test", "/"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Resolve with a cancelled context: %v", err)
	}
}

func TestPreload(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	for i := range 5 {
		addTenant(t, db, fmt.Sprint("t", i))
		addDomain(t, db, fmt.Sprintf("h%d.test", i), "", fmt.Sprint("t", i), false, false)
	}
	addDomain(t, db, "h4.test", "a", "t0", false, false) // h4.test has two rows
	res := newResolver(t, dynamicConfig(), db, Options{DisableListen: true})
	if n, err := res.Preload(context.Background()); n != 6 || err != nil {
		t.Fatalf("Preload = %d, %v; want 6", n, err)
	}
	for i := range 5 {
		if got := resolveSchema(res, fmt.Sprintf("h%d.test", i), "/"); got != fmt.Sprint("t", i) {
			t.Fatalf("h%d.test: %s", i, got)
		}
	}
	if got := resolveSchema(res, "h4.test", "/a/"); got != "t0" {
		t.Fatalf("h4.test/a: %s", got)
	}
	if s := res.Stats(); s.Loads != 0 || s.Entries != 6 {
		t.Fatalf("Stats = %+v, want no load and 6 entries", s)
	}

	// Five rows fit; the sixth would cut h4.test in two, so h4.test is left out whole.
	small := newResolver(t, dynamicConfig(), db, Options{DisableListen: true, CacheSize: 5})
	if n, err := small.Preload(context.Background()); n != 4 || err != nil {
		t.Fatalf("Preload into 5 = %d, %v; want 4", n, err)
	}
	if got := resolveSchema(small, "h4.test", "/a/"); got != "t0" || small.Stats().Loads != 1 {
		t.Fatalf("h4.test/a: %s, %+v; want t0 after one load", got, small.Stats())
	}
	small.Close()
	if _, err := small.Preload(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Preload after Close: %v", err)
	}
}

// TestCacheInvariants drives the cache without a database through random inserts, evictions,
// invalidations and flushes, and checks its bookkeeping after each step.
func TestCacheInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := newCache(20, time.Minute)
	pick := func(prefix string, n int) string { return fmt.Sprint(prefix, rng.IntN(n)) }
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 6:
			host := pick("h", 30)
			var rows []row
			for f := range rng.IntN(4) {
				rows = append(rows, row{domain: host, folder: fmt.Sprint("f", f), schema: pick("t", 10),
					primaryDomain: pick("h", 30)})
			}
			epoch := c.currentEpoch()
			if rng.IntN(10) == 0 {
				c.invalidate([]string{pick("h", 30)}, nil)
			}
			c.insert(host, rows, epoch)
		case op < 9:
			c.invalidate([]string{pick("h", 30), pick("h", 30)}, []string{pick("t", 10)})
		default:
			c.flush()
		}
		if err := c.check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
}

// check verifies the cache's bookkeeping: weight, references, and the tenant indexes.
func (c *cache) check() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	weight, refs := 0, map[*tenantRec]int{}
	for k, e := range c.hosts {
		if k != e.key {
			return fmt.Errorf("entry %q under key %q", e.key, k)
		}
		weight += e.weight()
		for _, rt := range e.routes {
			if rt.rec != nil {
				refs[rt.rec]++
			}
		}
	}
	if weight != c.weight || weight > c.max {
		return fmt.Errorf("weight %d, counted %d, max %d", c.weight, weight, c.max)
	}
	for rec, n := range refs {
		if !rec.stale.Load() && rec.refs != n {
			return fmt.Errorf("tenant %s: refs %d, counted %d", rec.schema, rec.refs, n)
		}
		if !rec.stale.Load() && c.tenants[rec.schema] != rec {
			return fmt.Errorf("tenant %s is cached but not indexed", rec.schema)
		}
	}
	for schema, rec := range c.tenants {
		if rec.stale.Load() || rec.schema != schema || refs[rec] == 0 {
			return fmt.Errorf("tenant %s: indexed stale or unused (refs %d)", schema, refs[rec])
		}
	}
	for d, recs := range c.byPrimary {
		for _, rec := range recs {
			if rec.primaryDomain != d || c.tenants[rec.schema] != rec {
				return fmt.Errorf("primary %s: record of %s is not current", d, rec.schema)
			}
		}
	}
	return nil
}
