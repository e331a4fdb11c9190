// Package resolve finds the tenant of a request from its host and the first folder of its path,
// the counterpart of django-pgschemas' routing, with a cache that the database keeps fresh.
//
//	res, err := resolve.New(cfg, db, resolve.Options{})
//	defer res.Close()
//	tenant, rest, err := res.Resolve(ctx, r.Host, r.URL.EscapedPath())
//	ctx = driver.WithSchema(ctx, tenant.Schema)
//
// The httpx package wraps this in net/http middleware; use resolve directly for other servers
// (gRPC, queues) or to route by name (Lookup).
//
// # Order
//
// Resolve tries, in this order: the static tenants' domains (host only); the domain table
// public.pgschemas_domain, with the path's first segment as folder and then with no folder; the
// static tenants' fallback domains. Otherwise it returns ErrNoTenant. public and the reference
// schema are never routed: a table row that names them, a static tenant, or an invalid name is
// refused (ErrNoTenant wrapping driver.ErrInvalidSchemaName), and logged.
//
// # Hosts and folders
//
// Hosts are compared without the port and the trailing dot, ignoring ASCII case. Options.StripWWW
// also ignores a leading "www." (django-pgschemas always does; here it is off unless asked, so that
// www.example.com and example.com may be different tenants). Internationalized names are compared
// in their punycode form ("xn--bcher-kva.example"), the form browsers send in the Host header and
// the form domain table rows must hold (lower case, no trailing dot, no port). A Host value that is
// not a host name, an IPv4 address or a bracketed IPv6 literal with an optional decimal port,
// or that is longer than 253 bytes, is ErrMalformedHost.
//
// The folder is the first segment of the escaped path, percent-decoded: "/shop/cart" has folder
// "shop", and Resolve returns the rest, "/cart" ("/shop" and "/shop/" give "/"). Folders match
// whole segments: "/shopx" never matches "shop", a first segment with an escaped slash
// ("/shop%2Fx") is no folder, nor are "." and "..". The rest is handed on as it
// is, so "/shop/../other" stays with the shop tenant as "/../other".
//
// # Cache
//
// The answers of the domain table, negative ones included, are cached by host: one query loads
// every folder of a host, so unknown folders of a known host cost nothing. Callers that miss the
// same host at once share one query. A cached answer costs no query and no allocation. The cache
// holds at most Options.CacheSize rows (plus one per negative host), dropping entries that were not
// used recently, and no answer older than Options.TTL. Preload fills it in one query.
//
// Changes to the domain table reach every process without a restart: schemaset's trigger sends
// pg_notify on schemaset.DomainChannel with the changed domain, and the Resolver LISTENs on a
// dedicated connection. On a notification it forgets that host, and every tenant that the host's
// rows named before or name now, so that a moved primary domain is seen under all of the tenant's
// hosts. The listener reconnects after a failure (with backoff from 100 ms to 10 s, and a liveness
// query after 30 s of silence), forgets the whole cache on every (re)connect since it may have
// missed changes, and while it is down the cache follows its TTL. Listening and Stats report its
// state.
//
// The LISTEN connection is taken from the *sql.DB given to New, with (*sql.DB).Conn, for as long
// as the Resolver lives, and discarded (never pooled again) when it fails or at Close. This needs
// no second connection string, credentials or TLS settings, and works with whatever connector the
// application configured, but it takes one connection from the pool: New refuses a pool limited to
// one connection. The *sql.DB must come from the pgschemas driver or from pgx's stdlib; with
// another driver, or behind a pooler that cannot LISTEN (PgBouncer in transaction mode), set
// Options.DisableListen.
//
// A Resolver is safe for concurrent use. Close it before its *sql.DB.
package resolve
