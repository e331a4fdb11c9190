// Package httpx is the net/http side of pgschemas: middleware that resolves each request's tenant
// (with package resolve) and puts it, with its schema for the pgschemas driver, into the request's
// context; a Router with one handler per static tenant and one for the dynamic tenants; and URL and
// cookie helpers that keep folder tenants apart.
//
//	res, err := resolve.New(cfg, db, resolve.Options{})
//	handler := httpx.Middleware(res)(&httpx.Router{
//		Static:  map[string]http.Handler{"www": site},
//		Dynamic: app,
//	})
//
//	// In app, every query through a pgschemas *sql.DB runs in the tenant's schema:
//	rows, err := db.QueryContext(r.Context(), "SELECT id, title FROM notes")
//	t, _ := httpx.TenantFrom(r.Context())
//	link := httpx.Path(r.Context(), "/notes/1") // "/shop/notes/1" for folder "shop"
//
// # Answers
//
// A request whose Host header is malformed gets 400, and one that routes to no tenant gets 404
// from Options.NotFound; neither reaches the next handler, so a handler never runs without a
// tenant, and never in public. A domain row with redirect_to_primary gets a 301 to the tenant's
// primary domain, keeping the path and the query.
//
// # Folders
//
// A tenant matched by a folder ("example.com/shop") sees its requests without the folder
// ("/shop/cart" arrives as "/cart"), so that one handler serves tenants with and without folders.
// Links must then put the folder back: build them with Path (same tenant) or AbsoluteURL (on the
// primary domain, for e-mails and other tenants). Both read only their arguments, so they are safe
// under concurrency, unlike URL reversing that keeps the prefix in shared state.
//
// Folder tenants share their host's cookies unless each cookie is scoped with CookiePath, whose
// documentation says what that does and does not protect.
//
// # Header routing
//
// Options.TenantHeader selects the tenant by name from a request header ("X-Tenant: acme"). It is
// off unless set, and unauthenticated: any client can name any tenant, so turn it on only behind a
// trusted proxy that sets the header and removes it from clients' requests.
package httpx
