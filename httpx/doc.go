// Package httpx is the net/http middleware around resolve: it puts the tenant and its schema into
// each request's context, and routes requests to per-tenant handlers. (Being built: see the routing
// issue.)
package httpx
