package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/resolve"
)

// Options configures Middleware. The zero value routes by host and path only, answers an unknown
// host with http.NotFound, and errors with http.Error.
type Options struct {
	// NotFound answers a request that routes to no tenant (resolve.ErrNoTenant): an unknown host or
	// folder, or a domain row that names public, the reference or an invalid schema. nil means
	// http.NotFound.
	NotFound http.Handler
	// Error answers a request that could not be routed for another reason, with the status the
	// default would send: 400 for a malformed Host header (resolve.ErrMalformedHost) or, with
	// TenantHeader, an invalid schema name in that header (driver.ErrInvalidSchemaName); 500 for a
	// database error. nil means http.Error(w, http.StatusText(status), status); the error is not
	// shown to the client. Use it to log err.
	Error func(w http.ResponseWriter, r *http.Request, status int, err error)
	// TenantHeader, when not empty, names a request header ("X-Tenant") whose value, when present,
	// selects the tenant by schema name (resolve.Resolver.Lookup) instead of the host: a static
	// tenant's name, or a dynamic tenant's schema. Off by default, and UNAUTHENTICATED: any client
	// that can reach the server can name any tenant. Turn it on only where the header comes from a
	// trusted party, such as a service mesh or a reverse proxy that removes it from the requests of
	// clients; never on a server that the internet reaches directly. A header with two values is
	// refused with 400.
	TenantHeader string
}

// Middleware returns middleware that resolves each request's tenant with res and calls the next
// handler with the tenant in the request's context (TenantFrom) together with its schema
// (driver.WithSchema), so that the handler's queries through a pgschemas *sql.DB run in the
// tenant's schema. Pass at most one Options; none means the zero Options.
//
// A tenant matched by a folder reaches the next handler with "/folder" removed from URL.Path and
// URL.RawPath ("/shop/cart" becomes "/cart", "/shop" becomes "/"); RequestURI keeps the original,
// and the folder stays in the tenant, for Path, AbsoluteURL and CookiePath. A tenant whose matched
// domain row has redirect_to_primary gets a 301 to its primary domain (scheme-relative, keeping
// the request's port, the path after the folder, and the query). Requests that route to no tenant
// never reach the next handler: see Options.NotFound and Options.Error. public is never routed.
//
// It panics when res is nil, when given more than one Options, or when TenantHeader is not a valid
// header name. The middleware is safe for concurrent use.
func Middleware(res *resolve.Resolver, opts ...Options) func(http.Handler) http.Handler {
	if res == nil {
		panic("httpx: Middleware with a nil *resolve.Resolver")
	}
	if len(opts) > 1 {
		panic("httpx: Middleware takes at most one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	m := &middleware{res: res, notFound: o.NotFound, fail: o.Error}
	if o.TenantHeader != "" {
		if !validHeaderName(o.TenantHeader) {
			panic("httpx: Options.TenantHeader " + o.TenantHeader + " is not a valid header name")
		}
		m.header = http.CanonicalHeaderKey(o.TenantHeader)
	}
	if m.notFound == nil {
		m.notFound = http.HandlerFunc(http.NotFound)
	}
	if m.fail == nil {
		m.fail = func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			http.Error(w, http.StatusText(status), status)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
	}
}

// middleware is Middleware's configuration, checked once.
type middleware struct {
	res      *resolve.Resolver
	notFound http.Handler
	fail     func(http.ResponseWriter, *http.Request, int, error)
	header   string // canonical; "" when header routing is off
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	t, rest, err := m.route(r)
	switch {
	case err == nil:
	case errors.Is(err, resolve.ErrMalformedHost), errors.Is(err, errBadHeader):
		m.fail(w, r, http.StatusBadRequest, err)
		return
	case errors.Is(err, resolve.ErrNoTenant):
		m.notFound.ServeHTTP(w, r)
		return
	default:
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if t.RedirectToPrimary {
		target := urlOn(t.PrimaryDomain+portOf(r.Host), t.PrimaryFolder, rest)
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	r = r.WithContext(WithTenant(r.Context(), t))
	if t.Folder != "" {
		r.URL = stripFolder(r.URL, t.Folder, rest)
	}
	next.ServeHTTP(w, r)
}

// errBadHeader marks a tenant header that cannot name a tenant.
var errBadHeader = errors.New("httpx: bad tenant header")

// route resolves r by the tenant header when it is on and present, else by host and path. rest is
// the escaped path after the matched folder.
func (m *middleware) route(r *http.Request) (resolve.Tenant, string, error) {
	if m.header != "" {
		switch vals := r.Header[m.header]; {
		case len(vals) > 1:
			return resolve.Tenant{}, "", errors.Join(errBadHeader, errors.New("the header "+m.header+" has more than one value"))
		case len(vals) == 1:
			t, err := m.res.Lookup(r.Context(), vals[0])
			if errors.Is(err, driver.ErrInvalidSchemaName) {
				err = errors.Join(errBadHeader, err)
			}
			return t, r.URL.EscapedPath(), err
		}
	}
	return m.res.Resolve(r.Context(), r.Host, r.URL.EscapedPath())
}

// stripFolder returns a copy of u without the first path segment, which decodes to folder; rest is
// the escaped path after it, as Resolve returned it.
func stripFolder(u *url.URL, folder, rest string) *url.URL {
	c := *u
	c.Path = u.Path[min(1+len(folder), len(u.Path)):]
	if c.Path == "" {
		c.Path = "/"
	}
	if c.RawPath != "" {
		c.RawPath = rest
	}
	return &c
}

// portOf returns ":port" of an HTTP Host value, or "".
func portOf(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[i:]
	}
	return ""
}

// validHeaderName reports whether name is an HTTP token.
func validHeaderName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return name != ""
}

// tenantKey is the context key of the tenant.
type tenantKey struct{}

// tenantCtx carries a tenant. It is a context.WithValue that holds the Tenant itself rather than
// an interface boxing a copy, which saves an allocation per request.
type tenantCtx struct {
	context.Context
	t resolve.Tenant
}

func (c *tenantCtx) Value(key any) any {
	if key == (tenantKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *tenantCtx) String() string { return "httpx.WithTenant(" + c.t.Schema + ")" }

// WithTenant returns a copy of ctx that carries t, and t.Schema for the pgschemas driver
// (driver.WithSchema). Middleware calls it; call it yourself to run code for a tenant outside a
// request, such as a background job or a handler's test. A context with the zero Tenant has an
// empty schema, which the driver refuses (driver.ErrInvalidSchemaName): it never falls back to
// public.
func WithTenant(ctx context.Context, t resolve.Tenant) context.Context {
	return driver.WithSchema(&tenantCtx{ctx, t}, t.Schema)
}

// TenantFrom returns the tenant that Middleware or WithTenant put into ctx, and whether there is
// one; without one it returns the zero Tenant and false.
func TenantFrom(ctx context.Context) (resolve.Tenant, bool) {
	if c, ok := ctx.Value(tenantKey{}).(*tenantCtx); ok {
		return c.t, true
	}
	return resolve.Tenant{}, false
}

// Path returns the path that reaches p, a path of the current tenant's site, from the browser:
// p with the tenant's folder in front ("/shop/cart" for p "/cart" under folder "shop"), or p itself
// for a tenant without a folder or a context without a tenant. p gets a leading "/" if it has none.
// Use it for every link and redirect a handler writes, since handlers see paths without the folder.
// It reads only ctx, so it is safe for concurrent use.
func Path(ctx context.Context, p string) string {
	t, _ := TenantFrom(ctx)
	return urlOn("", t.Folder, p)
}

// AbsoluteURL returns the scheme-relative URL of p on t's primary domain and folder:
// "//acme.example.com/x", or "//example.com/shop/x" for a primary row with folder "shop". Links
// to another tenant, or in an e-mail, need it; prefix "https:" where a scheme is needed. A tenant
// without a primary domain (found by name, with no primary row) gives the path alone. It reads only
// t, so it is safe for concurrent use.
func AbsoluteURL(t resolve.Tenant, p string) string {
	return urlOn(t.PrimaryDomain, t.PrimaryFolder, p)
}

// CookiePath returns the Path attribute for the cookies of the current tenant: "/folder" for a
// tenant matched by a folder, else "/".
//
// Tenants in folders of one host share that host's cookies unless each cookie is scoped: set
// Path: httpx.CookiePath(r.Context()) on every cookie (sessions, CSRF tokens, preferences), and
// never set Domain, which would share the cookie with other hosts. The browser then sends a
// tenant's cookies only to paths under its folder ("/shop" matches "/shop" and "/shop/...", not
// "/shopx"), so one tenant's session never reaches another's handlers. This stops accidental
// leaks, not attacks: folder tenants share an origin, so a script served by one tenant can read
// another's non-HttpOnly cookies and call its pages. Give tenants that do not trust each other
// hosts of their own.
func CookiePath(ctx context.Context) string {
	t, _ := TenantFrom(ctx)
	if t.Folder == "" {
		return "/"
	}
	return "/" + url.PathEscape(t.Folder)
}

// urlOn joins "//host" (when host is not empty), "/folder" (escaped, when not empty) and p.
func urlOn(host, folder, p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if folder != "" {
		p = "/" + url.PathEscape(folder) + p
	}
	if host != "" {
		p = "//" + host + p
	}
	return p
}
