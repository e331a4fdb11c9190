package httpx

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/resolve"
)

// FuzzMiddlewarePath sends any request path for shared.test through the middleware (folders
// globex, initech and café, and a bare-host tenant) and checks what the next handler gets: the
// path without the matched whole first segment, a RawPath that still encodes the Path, and the
// original path when no folder matched. Its seed corpus is in testdata/fuzz/FuzzMiddlewarePath.
func FuzzMiddlewarePath(f *testing.F) {
	_, res := setup(f)
	var (
		got    *url.URL
		tenant resolve.Tenant
	)
	h := Middleware(res)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, tenant = r.URL, mustTenant(r)
	}))
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Skip()
		}
		got, tenant = nil, resolve.Tenant{}
		req := &http.Request{Method: http.MethodGet, URL: u, Host: "shared.test", Header: http.Header{}, RequestURI: target}
		rec := &discard{}
		h.ServeHTTP(rec, req)
		if got == nil {
			t.Fatalf("%q: status %d, the handler did not run", target, rec.status)
		}
		if dec, err := url.PathUnescape(got.EscapedPath()); err != nil || dec != got.Path {
			t.Fatalf("%q: the handler's URL has Path %q and EscapedPath %q", target, got.Path, got.EscapedPath())
		}
		if tenant.Folder == "" {
			if tenant.Schema != "sub" || got.Path != u.Path || got.RawPath != u.RawPath {
				t.Fatalf("%q: no folder, but tenant %s, path %q raw %q", target, tenant.Schema, got.Path, got.RawPath)
			}
			return
		}
		seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		want := strings.TrimPrefix(u.Path, "/"+tenant.Folder)
		if seg != tenant.Folder || got.Path != want && !(want == "" && got.Path == "/") {
			t.Fatalf("%q: folder %s, path %q, want %q", target, tenant.Folder, got.Path, want)
		}
	})
}

func mustTenant(r *http.Request) resolve.Tenant {
	t, ok := TenantFrom(r.Context())
	if !ok {
		panic("no tenant in the handler's context")
	}
	return t
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	status int
	header http.Header
}

func (d *discard) Header() http.Header {
	if d.header == nil {
		d.header = http.Header{}
	}
	return d.header
}
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(status int)      { d.status = status }
