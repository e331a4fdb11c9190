package resolve

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/domainname"
	"github.com/pgschemas/pgschemas/internal/routing"
)

// Sentinel errors, to test with errors.Is.
var (
	// ErrNoTenant: no static domain, domain table row or fallback domain matches the host and
	// folder, or a matching row names a schema that is never routed (public, the reference, a static
	// tenant, an invalid name). In the last case the error also wraps driver.ErrInvalidSchemaName.
	ErrNoTenant = errors.New("no tenant")
	// ErrMalformedHost: the host is not a host name, an IPv4 address or a bracketed IPv6 literal,
	// with an optional decimal port. An HTTP server answers it with 400.
	ErrMalformedHost = errors.New("malformed host")
	// ErrClosed: the Resolver was closed. Resolve keeps answering; Preload refuses.
	ErrClosed = errors.New("resolver closed")
)

// Kind tells how a tenant is declared.
type Kind uint8

const (
	// KindNone is the zero Kind: no tenant.
	KindNone Kind = iota
	// KindStatic is a tenant named in the config's static blocks.
	KindStatic
	// KindDynamic is a tenant of the pgschemas_tenant table, routed by the domain table.
	KindDynamic
)

func (k Kind) String() string {
	switch k {
	case KindStatic:
		return "static"
	case KindDynamic:
		return "dynamic"
	}
	return "none"
}

// Tenant is the answer of Resolve: who the request is for, and how it was matched. The zero
// Tenant (Kind KindNone) is no tenant. A Tenant is a plain value, safe to copy and share.
type Tenant struct {
	// Schema is the tenant's schema, for driver.WithSchema. Never public, never the reference.
	Schema string
	Kind   Kind
	// Domain and Folder are what matched: the normalized host (lower case, no port, no trailing
	// dot, "www." removed with Options.StripWWW) and the path folder, "" for none. Both are empty
	// for a tenant found by name (Lookup).
	Domain string
	Folder string
	// PrimaryDomain and PrimaryFolder are where the tenant's canonical URLs live: for a dynamic
	// tenant its is_primary row, else the row that matched; for a static tenant its first domain,
	// else its first fallback domain (no folder). PrimaryDomain is empty only for a tenant found by
	// name that has no primary row.
	PrimaryDomain string
	PrimaryFolder string
	// RedirectToPrimary is set when the matched row has redirect_to_primary and is not itself the
	// primary: the request should be answered with a redirect there.
	RedirectToPrimary bool
}

// Options configures a Resolver. The zero value works: 100,000 cached entries for one minute,
// LISTEN on, www. kept.
type Options struct {
	// StripWWW removes a leading "www." from the request's host before matching, as
	// django-pgschemas always does; "www.acme.com" then routes as "acme.com". Off by default, so
	// that www. and the bare domain may belong to different tenants. With it on, a static domain
	// that starts with "www." is refused by New, and domain table rows that do never match.
	StripWWW bool
	// CacheSize bounds the cache, counted in domain table rows (a host with three folders counts
	// three) plus one per negative answer. 0 means 100,000; a negative value is an error. When full,
	// an entry not used since the last sweep is dropped (second-chance sampling, close to LRU).
	CacheSize int
	// TTL bounds the age of every cached answer, positive or negative. 0 means one minute. While
	// LISTEN works, changes to the domain table reach the cache within milliseconds and TTL is a
	// safety net; while the LISTEN connection is down (or with DisableListen), TTL is how soon a
	// change is seen.
	TTL time.Duration
	// DisableListen turns LISTEN off: the cache then follows the domain table by TTL only. Use it
	// where LISTEN cannot work, such as behind PgBouncer in transaction mode.
	DisableListen bool
	// Logger receives the LISTEN connection's failures and reconnects, and domain rows that name a
	// schema that is never routed. nil logs nothing.
	Logger *slog.Logger
}

// Stats is a snapshot of a Resolver's counters, for metrics and tests.
type Stats struct {
	// Loads counts the queries made to answer Resolve and Lookup (concurrent misses of one host
	// share one query).
	Loads uint64
	// Entries is the cache's current weight (see Options.CacheSize), Hosts the cached hosts and
	// names.
	Entries, Hosts int
	// Notifications counts the domain changes received over LISTEN, Connects the LISTEN
	// connections made (the first one included).
	Notifications, Connects uint64
	// Listening reports whether the LISTEN connection is up.
	Listening bool
}

// Resolver maps a request's host and path to a tenant. It is safe for concurrent use. Close it
// before closing its *sql.DB.
type Resolver struct {
	db       *sql.DB
	dynamic  bool
	listens  bool // a listener runs (until Close)
	stripWWW bool
	log      *slog.Logger

	static   map[string]Tenant // by domain
	fallback map[string]Tenant // by fallback domain
	byName   map[string]Tenant // static tenants by schema name
	reserved map[string]bool   // lower-cased schemas a table row may not route to

	cache *cache

	healthEvery             time.Duration // the constant healthEvery, but in tests
	notifications, connects atomic.Uint64
	listening               atomic.Bool
	closed                  atomic.Bool
	stop                    context.CancelFunc
	done                    chan struct{}
	closeOnce               sync.Once
}

// Defaults of Options.
const (
	DefaultCacheSize = 100_000
	DefaultTTL       = time.Minute
)

// loadTimeout bounds one lookup query. It runs apart from the callers' contexts, since callers
// that ask for the same host at once share it; each caller still stops waiting when its own
// context ends.
const loadTimeout = 10 * time.Second

// New returns a Resolver for cfg, which it checks with cfg.Validate. db is needed when cfg has a
// Dynamic block (it may be nil otherwise): lookups query public.pgschemas_domain through it, and,
// unless opts.DisableListen, the Resolver takes one connection from it for good to LISTEN on
// schemaset.DomainChannel. db must then come from the pgschemas driver or pgx's stdlib ("pgx"), and
// allow at least two open connections. New starts the listener and returns without waiting for it.
func New(cfg Config, db *sql.DB, opts Options) (*Resolver, error) {
	return create(cfg, db, opts, healthEvery)
}

// Config is what New reads of a set's configuration: *schemaset.Config implements it. resolve
// does not import schemaset, so that a service that routes requests links no part of the engine,
// whose checks of app SQL use cgo.
type Config interface {
	// Routing returns the static tenants with their domains, the reference's name and whether
	// dynamic tenants exist, or why the configuration is invalid.
	Routing() (routing.Config, error)
}

// create is New with the listener's health check interval, which tests shorten.
func create(cfg Config, db *sql.DB, opts Options, health time.Duration) (*Resolver, error) {
	if cfg == nil {
		return nil, errors.New("resolve: nil config")
	}
	rc, err := cfg.Routing()
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	switch {
	case opts.CacheSize < 0:
		return nil, fmt.Errorf("resolve: Options.CacheSize %d is negative", opts.CacheSize)
	case opts.TTL < 0:
		return nil, fmt.Errorf("resolve: Options.TTL %v is negative", opts.TTL)
	case opts.CacheSize == 0:
		opts.CacheSize = DefaultCacheSize
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	r := &Resolver{
		db:       db,
		dynamic:  rc.Dynamic,
		stripWWW: opts.StripWWW,
		log:      opts.Logger,
		static:   map[string]Tenant{},
		fallback: map[string]Tenant{},
		byName:   map[string]Tenant{},
		reserved: map[string]bool{"public": true},
		cache:    newCache(opts.CacheSize, opts.TTL),
		done:     make(chan struct{}),

		healthEvery: health,
	}
	if err := r.addStatic(rc); err != nil {
		return nil, err
	}
	listen := r.dynamic && !opts.DisableListen
	if err := r.checkDB(listen); err != nil {
		return nil, err
	}
	if !listen {
		close(r.done)
		r.stop = func() {}
		return r, nil
	}
	ctx, stop := context.WithCancel(context.Background())
	r.stop, r.listens = stop, true
	go r.listen(ctx)
	return r, nil
}

// addStatic indexes the static tenants' domains and names, and reserves the names no table row
// may route to.
func (r *Resolver) addStatic(cfg routing.Config) error {
	if cfg.Reference != "" {
		r.reserved[strings.ToLower(cfg.Reference)] = true
	}
	for _, s := range cfg.Static {
		r.reserved[strings.ToLower(s.Name)] = true
		t := Tenant{Schema: s.Name, Kind: KindStatic}
		switch {
		case len(s.Domains) > 0:
			t.PrimaryDomain = configHost(s.Domains[0])
		case len(s.FallbackDomains) > 0:
			t.PrimaryDomain = configHost(s.FallbackDomains[0])
		}
		r.byName[s.Name] = t
		for _, d := range s.Domains {
			if err := r.addDomain(r.static, t, d); err != nil {
				return err
			}
		}
		for _, d := range s.FallbackDomains {
			if err := r.addDomain(r.fallback, t, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Resolver) addDomain(m map[string]Tenant, t Tenant, domain string) error {
	t.Domain = configHost(domain)
	if r.stripWWW && strings.HasPrefix(t.Domain, "www.") {
		return fmt.Errorf("resolve: static %q: domain %q can never match with Options.StripWWW", t.Schema, domain)
	}
	m[t.Domain] = t
	return nil
}

// configHost is the lookup form of a domain that Validate accepted: its stored form (lower case,
// punycode, no trailing dot), which normalizeHost gives requests too.
func configHost(d string) string {
	if h, err := domainname.Host(d); err == nil {
		return h
	}
	return strings.ToLower(strings.TrimSuffix(d, "."))
}

// checkDB checks that db can serve the dynamic tenants, and with listen that it can give a
// connection for LISTEN.
func (r *Resolver) checkDB(listen bool) error {
	switch {
	case !r.dynamic:
		return nil
	case r.db == nil:
		return errors.New("resolve: the config has dynamic tenants, and the *sql.DB is nil")
	case !listen:
		return nil
	}
	switch r.db.Driver().(type) {
	case driver.Driver, *stdlib.Driver:
	default:
		return fmt.Errorf("resolve: LISTEN needs a *sql.DB of the pgschemas or pgx driver, not %T; set Options.DisableListen to rely on the TTL", r.db.Driver())
	}
	if r.db.Stats().MaxOpenConnections == 1 {
		return errors.New("resolve: the *sql.DB allows one open connection, which LISTEN would hold for good: allow two or more, or set Options.DisableListen")
	}
	return nil
}

// Resolve finds the tenant of a request to host (an HTTP Host value: a port, upper case and a
// trailing dot are ignored) and path (the escaped URL path, as url.URL.EscapedPath gives it). It
// returns the tenant and the path with the matched folder removed ("/shop/cart" for folder "shop"
// gives "/cart", and "/shop" gives "/"); without a folder, path is returned as it is. The order:
//
//  1. the static tenants' domains, by host only;
//  2. the domain table: the host with the path's first segment as folder, then the host with no
//     folder (folders match whole segments: "/shopx" never matches folder "shop");
//  3. the static tenants' fallback domains;
//  4. otherwise an error that wraps ErrNoTenant.
//
// A malformed host gives an error that wraps ErrMalformedHost. A table row that names a schema
// never routed (public, the reference, a static tenant, an invalid name) gives an error that wraps
// ErrNoTenant and driver.ErrInvalidSchemaName, without falling through to step 3. Answers of step
// 2, negative ones included, are cached (see Options); a cached answer costs no query and no
// allocation. ctx bounds the wait for a query; a database error is returned wrapped.
func (r *Resolver) Resolve(ctx context.Context, host, path string) (Tenant, string, error) {
	var buf hostBuf
	h, err := normalizeHost(host, r.stripWWW, &buf)
	if err != nil {
		return Tenant{}, path, err
	}
	if t, ok := r.static[string(h)]; ok {
		return t, path, nil
	}
	if r.dynamic {
		t, rest, found, err := r.fromTable(ctx, h, path)
		if found || err != nil {
			return t, rest, err
		}
	}
	if t, ok := r.fallback[string(h)]; ok {
		return t, path, nil
	}
	return Tenant{}, path, ErrNoTenant
}

// fromTable answers from the domain table, through the cache. found is false when no row matches.
func (r *Resolver) fromTable(ctx context.Context, host []byte, path string) (t Tenant, rest string, found bool, err error) {
	folder, rest, hasFolder := splitFolder(path)
	rt, e, err := r.cached(ctx, host, folder, hasFolder, (*Resolver).loadHost)
	if rt == nil || err != nil {
		return Tenant{}, path, false, err
	}
	if rt.folder == "" {
		rest = path
	}
	t, err = rt.tenant(e.key)
	return t, rest, true, err
}

// cached returns the route of folder (or of no folder) in the entry of key, loading the entry
// with fetch when it is not cached, expired, or its route's tenant went stale.
func (r *Resolver) cached(ctx context.Context, key []byte, folder string, hasFolder bool,
	fetch func(*Resolver, context.Context, string) ([]row, error)) (*route, *entry, error) {
	e, ok := r.cache.get(key)
	rt := e.match(folder, hasFolder)
	if ok && !rt.stale() {
		return rt, e, nil
	}
	e, err := r.cache.load(ctx, string(key), func(ctx context.Context, key string) ([]row, error) {
		return fetch(r, ctx, key)
	})
	if err != nil {
		return nil, nil, err
	}
	return e.match(folder, hasFolder), e, nil
}

// Lookup finds a tenant by its schema name, for routing that does not go by host (such as the
// httpx header opt-in): a static tenant by its name, or a dynamic tenant that has a row in
// public.pgschemas_tenant. Domain and Folder are empty. public, the reference and invalid names
// give an error that wraps ErrNoTenant (and driver.ErrInvalidSchemaName for an invalid name).
// Dynamic answers are cached like Resolve's.
func (r *Resolver) Lookup(ctx context.Context, schema string) (Tenant, error) {
	if t, ok := r.byName[schema]; ok {
		return t, nil
	}
	if err := r.routable(schema); err != nil {
		return Tenant{}, fmt.Errorf("%w: %w", ErrNoTenant, err)
	}
	if !r.dynamic {
		return Tenant{}, ErrNoTenant
	}
	var buf [len(nameKeyPrefix) + driver.MaxSchemaNameLen]byte
	rt, _, err := r.cached(ctx, append(append(buf[:0], nameKeyPrefix...), schema...), "", false, (*Resolver).loadName)
	if rt == nil || err != nil {
		return Tenant{}, cmp.Or(err, ErrNoTenant)
	}
	return rt.tenant("")
}

// routable reports why a domain table row may not route to schema, or nil.
func (r *Resolver) routable(schema string) error {
	if err := driver.CheckSchemaName(schema); err != nil {
		return err
	}
	if r.reserved[strings.ToLower(schema)] {
		return fmt.Errorf("%w %q: public, the reference and static tenants are never routed by the domain table",
			driver.ErrInvalidSchemaName, schema)
	}
	if len(schema) >= len(routing.ReservedPrefix) && strings.EqualFold(schema[:len(routing.ReservedPrefix)], routing.ReservedPrefix) {
		return fmt.Errorf("%w %q: the prefix %s is reserved", driver.ErrInvalidSchemaName, schema, routing.ReservedPrefix)
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (r *Resolver) Stats() Stats {
	s := r.cache.stats()
	s.Notifications, s.Connects = r.notifications.Load(), r.connects.Load()
	s.Listening = r.listening.Load()
	return s
}

// Listening reports whether the LISTEN connection is up, for health checks: while it is down,
// changes to the domain table are seen within Options.TTL only.
func (r *Resolver) Listening() bool { return r.listening.Load() }

// Close stops listening and gives the LISTEN connection back, discarded, to the *sql.DB; it waits
// for that. Resolve keeps working afterwards, following the domain table by TTL only. Close is
// idempotent and returns nil.
func (r *Resolver) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.stop()
		<-r.done
	})
	return nil
}

func (r *Resolver) warn(msg string, args ...any) {
	if r.log != nil {
		r.log.Warn(msg, args...)
	}
}
