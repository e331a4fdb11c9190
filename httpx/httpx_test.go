package httpx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/resolve"
)

func TestMiddlewareQueriesRunInTheTenantsSchema(t *testing.T) {
	db, res := setup(t)
	h := Middleware(res)(notesHandler(db))
	tests := []struct{ host, target, want string }{
		{"www.test", "/x", `200 static www folder="" path="/x" raw="" notes=www`},
		{"WWW.test:8080", "/x", `200 static www folder="" path="/x" raw="" notes=www`},
		{"acme.test", "/notes/1?x=2", `200 dynamic acme folder="" path="/notes/1" raw="" notes=acme`},
		{"acme.test.", "/", `200 dynamic acme folder="" path="/" raw="" notes=acme`},
		{"shared.test", "/globex/notes/1", `200 dynamic globex folder="globex" path="/notes/1" raw="" notes=globex`},
		{"shared.test", "/globex", `200 dynamic globex folder="globex" path="/" raw="" notes=globex`},
		{"shared.test", "/globex/", `200 dynamic globex folder="globex" path="/" raw="" notes=globex`},
		{"shared.test", "/initech/a%2Fb/c", `200 dynamic initech folder="initech" path="/a/b/c" raw="/a%2Fb/c" notes=initech`},
		{"shared.test", "/caf%C3%A9/menu", `200 dynamic initech folder="café" path="/menu" raw="" notes=initech`},
		{"shared.test", "/globexx/", `200 dynamic sub folder="" path="/globexx/" raw="" notes=sub`},
		{"shared.test", "/globex%2Fx/", `200 dynamic sub folder="" path="/globex/x/" raw="/globex%2Fx/" notes=sub`},
		{"shared.test", "/../globex/", `200 dynamic sub folder="" path="/../globex/" raw="" notes=sub`},
		{"shared.test", "/", `200 dynamic sub folder="" path="/" raw="" notes=sub`},
	}
	for _, tt := range tests {
		if got := body(serve(h, tt.host, tt.target)); got != tt.want {
			t.Errorf("%s%s:\n got %s\nwant %s", tt.host, tt.target, got, tt.want)
		}
	}
}

// TestMiddlewareConcurrentTenants sends requests for every tenant at once, through one pool: each
// handler's query must see its own tenant's notes.
func TestMiddlewareConcurrentTenants(t *testing.T) {
	db, res := setup(t)
	db.SetMaxOpenConns(4)
	h := Middleware(res)(notesHandler(db))
	targets := map[string][2]string{
		"www": {"www.test", "/"}, "acme": {"acme.test", "/"}, "globex": {"shared.test", "/globex/"},
		"initech": {"shared.test", "/initech/"}, "sub": {"shared.test", "/"},
	}
	var wg sync.WaitGroup
	for range 10 {
		for want, hp := range targets {
			wg.Go(func() {
				if got := body(serve(h, hp[0], hp[1])); !strings.HasSuffix(got, "notes="+want) {
					t.Errorf("%s%s: %s", hp[0], hp[1], got)
				}
			})
		}
	}
	wg.Wait()
}

func TestMiddlewareAnswers(t *testing.T) {
	db, res := setup(t)
	var failed []string
	h := Middleware(res, Options{
		NotFound: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no tenant here", http.StatusNotFound)
		}),
		Error: func(w http.ResponseWriter, r *http.Request, status int, err error) {
			failed = append(failed, fmt.Sprint(status))
			http.Error(w, "custom "+http.StatusText(status), status)
		},
	})(notesHandler(db))
	tests := []struct{ name, host, target, want, location string }{
		{"unknown host", "unknown.test", "/", "404 no tenant here\n", ""},
		{"unknown folder on a host without a bare row", "acme.test", "/nope/", `200 dynamic acme folder="" path="/nope/" raw="" notes=acme`, ""},
		{"public is never routed", "public.test", "/", "404 no tenant here\n", ""},
		{"malformed host", "acme..test", "/", "400 custom Bad Request\n", ""},
		{"empty host", "", "/", "400 custom Bad Request\n", ""},
		{"over-long host", strings.Repeat("a", 300), "/", "400 custom Bad Request\n", ""},
		{"redirect to primary", "old.test", "/a/b?q=1&r=%2F", "301 ", "//acme.test/a/b?q=1&r=%2F"},
		{"redirect keeps the port", "old.test:8443", "/a", "301 ", "//acme.test:8443/a"},
		{"redirect keeps escapes", "old.test", "/a%2Fb", "301 ", "//acme.test/a%2Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.host, tt.target)
			got := body(rec)
			if tt.location != "" {
				got = got[:4]
			}
			if got != tt.want || rec.Header().Get("Location") != tt.location {
				t.Fatalf("got %q, Location %q; want %q, %q", got, rec.Header().Get("Location"), tt.want, tt.location)
			}
		})
	}
	if strings.Join(failed, ",") != "400,400,400" {
		t.Fatalf("Error calls: %v", failed)
	}

	// A database error is a 500, through the default Error, which does not show it.
	db.Close()
	res2, err := resolve.New(testConfig(), db, resolve.Options{DisableListen: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := body(serve(Middleware(res2)(notesHandler(db)), "acme.test", "/")); got != "500 Internal Server Error\n" {
		t.Fatalf("with a closed database: %q", got)
	}
}

// TestMiddlewareRealServer sends raw requests to net/http's server, which refuses some Host
// values before any handler runs.
func TestMiddlewareRealServer(t *testing.T) {
	db, res := setup(t)
	srv := httptest.NewServer(Middleware(res)(notesHandler(db)))
	defer srv.Close()
	for _, tt := range []struct{ host, want string }{
		{"acme.test", "200"},
		{"shared.test", "200"},
		{"xn--bcher-kva.test", "404"}, // the punycode form, as browsers send it: unknown here
		{"bücher.test", "400"},        // raw UTF-8: net/http answers 400 itself
		{"acme..test", "400"},         // net/http lets it through; the middleware refuses it
		{"nobody.test", "404"},
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /globex/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", tt.host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if got := fmt.Sprint(resp.StatusCode); got != tt.want {
			t.Errorf("Host %s: %s, want %s", tt.host, got, tt.want)
		}
	}
}

func TestHeaderRouting(t *testing.T) {
	db, res := setup(t)
	off := Middleware(res)(notesHandler(db))
	if got := body(serve(off, "acme.test", "/", "X-Tenant", "globex")); !strings.HasSuffix(got, "notes=acme") {
		t.Fatalf("header routing is on by default: %s", got)
	}
	on := Middleware(res, Options{TenantHeader: "x-tenant"})(notesHandler(db))
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{"dynamic by name", []string{"X-Tenant", "globex"}, `200 dynamic globex folder="" path="/globex/x" raw="" notes=globex`},
		{"static by name", []string{"X-Tenant", "www"}, `200 static www folder="" path="/globex/x" raw="" notes=www`},
		{"no header: by host", nil, `200 dynamic globex folder="globex" path="/x" raw="" notes=globex`},
		{"unknown tenant", []string{"X-Tenant", "nobody"}, "404 404 page not found\n"},
		{"public", []string{"X-Tenant", "public"}, "400 Bad Request\n"},
		{"invalid name", []string{"X-Tenant", "Bad-Name"}, "400 Bad Request\n"},
		{"empty", []string{"X-Tenant", ""}, "400 Bad Request\n"},
		{"two values", []string{"X-Tenant", "acme", "X-Tenant", "globex"}, "400 Bad Request\n"},
	}
	for _, tt := range tests {
		if got := body(serve(on, "shared.test", "/globex/x", tt.header...)); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestMiddlewarePanics(t *testing.T) {
	_, res := setup(t)
	for name, f := range map[string]func(){
		"nil resolver":      func() { Middleware(nil) },
		"two Options":       func() { Middleware(res, Options{}, Options{}) },
		"bad header name":   func() { Middleware(res, Options{TenantHeader: "X Tenant"}) },
		"header with colon": func() { Middleware(res, Options{TenantHeader: "X-Tenant:"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestRouter(t *testing.T) {
	db, res := setup(t)
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) })
	}
	rt := &Router{Static: map[string]http.Handler{"www": named("site")}, Dynamic: named("app")}
	h := Middleware(res)(rt)
	for _, tt := range []struct{ host, target, want string }{
		{"www.test", "/", "200 site"},
		{"admin.test", "/", "404 404 page not found\n"}, // a static tenant without a handler
		{"acme.test", "/", "200 app"},
		{"shared.test", "/globex/", "200 app"},
		{"nobody.test", "/", "404 404 page not found\n"},
	} {
		if got := body(serve(h, tt.host, tt.target)); got != tt.want {
			t.Errorf("%s%s: %q, want %q", tt.host, tt.target, got, tt.want)
		}
	}
	rt.NotFound = named("custom")
	if got := body(serve(h, "admin.test", "/")); got != "200 custom" {
		t.Errorf("custom NotFound: %q", got)
	}
	// Without Middleware there is no tenant; the zero Router answers 404.
	if got := body(serve(rt, "www.test", "/")); got != "200 custom" {
		t.Errorf("no tenant: %q", got)
	}
	if got := body(serve(&Router{}, "www.test", "/")); got != "404 404 page not found\n" {
		t.Errorf("zero Router: %q", got)
	}
	_ = db
}

func TestURLHelpers(t *testing.T) {
	folder := resolve.Tenant{Schema: "globex", Kind: resolve.KindDynamic, Domain: "shared.test", Folder: "globex",
		PrimaryDomain: "globex.test"}
	primaryFolder := resolve.Tenant{Schema: "initech", Kind: resolve.KindDynamic, Domain: "initech.test",
		PrimaryDomain: "shared.test", PrimaryFolder: "café"}
	host := resolve.Tenant{Schema: "acme", Kind: resolve.KindDynamic, Domain: "acme.test", PrimaryDomain: "acme.test"}
	byName := resolve.Tenant{Schema: "sub", Kind: resolve.KindDynamic}
	tests := []struct {
		name                       string
		ctx                        context.Context
		tenant                     resolve.Tenant
		p                          string
		path, absolute, cookiePath string
	}{
		{"folder", WithTenant(context.Background(), folder), folder, "/notes/1", "/globex/notes/1", "//globex.test/notes/1", "/globex"},
		{"folder, root", WithTenant(context.Background(), folder), folder, "/", "/globex/", "//globex.test/", "/globex"},
		{"folder, relative", WithTenant(context.Background(), folder), folder, "x", "/globex/x", "//globex.test/x", "/globex"},
		{"primary in a folder", WithTenant(context.Background(), primaryFolder), primaryFolder, "/x", "/x", "//shared.test/caf%C3%A9/x", "/"},
		{"host", WithTenant(context.Background(), host), host, "/x?y=1", "/x?y=1", "//acme.test/x?y=1", "/"},
		{"by name, no primary", WithTenant(context.Background(), byName), byName, "/x", "/x", "/x", "/"},
		{"no tenant", context.Background(), resolve.Tenant{}, "/x", "/x", "/x", "/"},
	}
	for _, tt := range tests {
		if got := Path(tt.ctx, tt.p); got != tt.path {
			t.Errorf("%s: Path = %q, want %q", tt.name, got, tt.path)
		}
		if got := AbsoluteURL(tt.tenant, tt.p); got != tt.absolute {
			t.Errorf("%s: AbsoluteURL = %q, want %q", tt.name, got, tt.absolute)
		}
		if got := CookiePath(tt.ctx); got != tt.cookiePath {
			t.Errorf("%s: CookiePath = %q, want %q", tt.name, got, tt.cookiePath)
		}
	}
	c := WithTenant(context.Background(), resolve.Tenant{Folder: "a b"})
	if got := CookiePath(c); got != "/a%20b" {
		t.Errorf("CookiePath with a space: %q", got)
	}
}

// TestURLHelpersConcurrent builds URLs for many tenants at once: each answer depends only on its
// own context (run it with -race).
func TestURLHelpersConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			folder := fmt.Sprint("t", i)
			ctx := WithTenant(context.Background(), resolve.Tenant{Schema: folder, Folder: folder, PrimaryDomain: "x.test", PrimaryFolder: folder})
			for range 200 {
				tenant, _ := TenantFrom(ctx)
				if p, a := Path(ctx, "/a"), AbsoluteURL(tenant, "/a"); p != "/"+folder+"/a" || a != "//x.test/"+folder+"/a" {
					t.Errorf("tenant %s: %s, %s", folder, p, a)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTenantFrom(t *testing.T) {
	if tenant, ok := TenantFrom(context.Background()); ok || tenant != (resolve.Tenant{}) {
		t.Fatalf("empty context: %+v, %v", tenant, ok)
	}
	want := resolve.Tenant{Schema: "acme", Kind: resolve.KindDynamic}
	ctx := WithTenant(context.Background(), want)
	if got, ok := TenantFrom(ctx); !ok || got != want {
		t.Fatalf("TenantFrom = %+v, %v", got, ok)
	}
	if s, ok := driver.SchemaFrom(ctx); !ok || s != "acme" {
		t.Fatalf("driver.SchemaFrom = %q, %v", s, ok)
	}
	// The zero Tenant carries an empty schema, which the driver refuses: never public.
	db, _ := setup(t)
	var title string
	err := db.QueryRowContext(WithTenant(context.Background(), resolve.Tenant{}), "SELECT title FROM notes").Scan(&title)
	if !errors.Is(err, driver.ErrInvalidSchemaName) {
		t.Fatalf("query with the zero Tenant: %v, %q", err, title)
	}
}
