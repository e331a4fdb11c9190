package httpx

import (
	"net/http"

	"github.com/pgschemas/pgschemas/resolve"
)

// Router sends each request to the handler of its tenant, the counterpart of django-pgschemas'
// per-tenant URLCONF: one handler per static tenant, by name, and one for all dynamic tenants. A
// request whose tenant has no handler, or that has no tenant (Router not behind Middleware), goes
// to NotFound. The zero Router answers 404 to everything.
//
//	h := httpx.Middleware(res)(&httpx.Router{
//		Static:  map[string]http.Handler{"www": marketing, "admin": backOffice},
//		Dynamic: app,
//	})
//
// Set the fields before serving and do not change them after; ServeHTTP only reads them, so it is
// safe for concurrent use.
type Router struct {
	// Static maps a static tenant's name (its schema) to its handler.
	Static map[string]http.Handler
	// Dynamic serves every dynamic tenant.
	Dynamic http.Handler
	// NotFound answers the rest. nil means http.NotFound.
	NotFound http.Handler
}

// ServeHTTP calls the handler of the request's tenant.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, _ := TenantFrom(r.Context())
	var h http.Handler
	switch t.Kind {
	case resolve.KindStatic:
		h = rt.Static[t.Schema]
	case resolve.KindDynamic:
		h = rt.Dynamic
	}
	if h == nil {
		h = rt.NotFound
	}
	if h == nil {
		h = http.HandlerFunc(http.NotFound)
	}
	h.ServeHTTP(w, r)
}
