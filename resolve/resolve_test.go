package resolve

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/schemaset"
)

// routingConfig has two static tenants (one with fallback domains only), dynamic tenants, and a
// reference schema.
func routingConfig() *schemaset.Config {
	return &schemaset.Config{
		Static: []schemaset.Static{
			{Name: "www", Domains: []string{"acme.test", "Example.TEST."}, FallbackDomains: []string{"fallback.test"}},
			{Name: "blog", FallbackDomains: []string{"blog-fallback.test"}},
		},
		Dynamic: &schemaset.Dynamic{CloneReference: "sample"},
	}
}

// routingDB returns a database whose domain table holds the rows of the routing tests.
func routingDB(t testing.TB) *sql.DB {
	t.Helper()
	db, _ := openDB(t, "pgschemas")
	for _, s := range []string{"client1", "client2", "hosted", "buecher", "t3", "fallen", "foldered", "public", "sample", "blog"} {
		addTenant(t, db, s)
	}
	addDomain(t, db, "tenants.test", "client1", "client1", false, false)
	addDomain(t, db, "tenants.test", "client2", "client2", false, false)
	addDomain(t, db, "tenants.test", "", "hosted", false, false)
	addDomain(t, db, "xn--bcher-kva.test", "", "buecher", false, false)
	addDomain(t, db, "t3.test", "", "t3", true, false)
	addDomain(t, db, "old-t3.test", "", "t3", false, true)
	addDomain(t, db, "t3.test", "shop", "t3", false, true) // not the primary: redirects
	addDomain(t, db, "fallback.test", "f", "fallen", false, false)
	addDomain(t, db, "folders.test", "a", "foldered", false, false)
	addDomain(t, db, "public.test", "", "public", false, false)
	addDomain(t, db, "ref.test", "", "sample", false, false)
	addDomain(t, db, "static.test", "", "blog", false, false)
	// A name that the tenant table's CHECK refuses, as a hand-edited database may hold.
	exec(t, db, `ALTER TABLE public.pgschemas_tenant DROP CONSTRAINT pgschemas_tenant_valid_name`)
	addTenant(t, db, "Bad-Name")
	addTenant(t, db, "pg_catalog")
	addDomain(t, db, "bad.test", "", "Bad-Name", false, false)
	addDomain(t, db, "pg.test", "", "pg_catalog", false, false)
	return db
}

func TestResolve(t *testing.T) {
	db := routingDB(t)
	res := newResolver(t, routingConfig(), db, Options{})
	long := strings.Repeat("a.", 126) + "ab" // 254 bytes
	type want struct {
		schema        string
		kind          Kind
		domain        string
		folder        string
		rest          string
		primary       string
		primaryFolder string
		redirect      bool
	}
	static := func(domain, primary, rest string) want {
		return want{schema: "www", kind: KindStatic, domain: domain, primary: primary, rest: rest}
	}
	dyn := func(schema, domain, folder, rest string) want {
		return want{schema: schema, kind: KindDynamic, domain: domain, folder: folder, rest: rest, primary: domain, primaryFolder: folder}
	}
	tests := []struct {
		name, host, path string
		want             want
		errs             []error
	}{
		{name: "static domain", host: "acme.test", path: "/x", want: static("acme.test", "acme.test", "/x")},
		{name: "port", host: "acme.test:8443", path: "/x", want: static("acme.test", "acme.test", "/x")},
		{name: "upper case", host: "ACME.Test", path: "/", want: static("acme.test", "acme.test", "/")},
		{name: "trailing dot", host: "acme.test.", path: "/", want: static("acme.test", "acme.test", "/")},
		{name: "trailing dot and port", host: "acme.test.:80", path: "/", want: static("acme.test", "acme.test", "/")},
		{name: "config domain in upper case with a dot", host: "example.test", path: "/", want: static("example.test", "acme.test", "/")},
		{name: "static ignores the folder", host: "acme.test", path: "/client1/x", want: static("acme.test", "acme.test", "/client1/x")},
		{name: "www. is another host", host: "www.acme.test", path: "/", errs: []error{ErrNoTenant}},
		{name: "folder", host: "tenants.test", path: "/client1/x/y", want: dyn("client1", "tenants.test", "client1", "/x/y")},
		{name: "folder without trailing slash", host: "tenants.test", path: "/client1", want: dyn("client1", "tenants.test", "client1", "/")},
		{name: "folder with trailing slash", host: "tenants.test", path: "/client1/", want: dyn("client1", "tenants.test", "client1", "/")},
		{name: "second folder", host: "Tenants.Test:8080", path: "/client2/a?b", want: dyn("client2", "tenants.test", "client2", "/a?b")},
		{name: "folder is a whole segment", host: "tenants.test", path: "/client1x/", want: dyn("hosted", "tenants.test", "", "/client1x/")},
		{name: "folder prefix of a segment", host: "tenants.test", path: "/client", want: dyn("hosted", "tenants.test", "", "/client")},
		{name: "escaped slash is no folder", host: "tenants.test", path: "/client1%2Fx/y", want: dyn("hosted", "tenants.test", "", "/client1%2Fx/y")},
		{name: "escaped folder", host: "tenants.test", path: "/%63lient1/x", want: dyn("client1", "tenants.test", "client1", "/x")},
		{name: "dot-dot first", host: "tenants.test", path: "/../client1/x", want: dyn("hosted", "tenants.test", "", "/../client1/x")},
		{name: "dot-dot after the folder stays", host: "tenants.test", path: "/client1/../client2/", want: dyn("client1", "tenants.test", "client1", "/../client2/")},
		{name: "empty first segment", host: "tenants.test", path: "//client1/", want: dyn("hosted", "tenants.test", "", "//client1/")},
		{name: "host without folder", host: "tenants.test", path: "/", want: dyn("hosted", "tenants.test", "", "/")},
		{name: "empty path", host: "tenants.test", path: "", want: dyn("hosted", "tenants.test", "", "")},
		{name: "folders are case-sensitive", host: "tenants.test", path: "/Client1/", want: dyn("hosted", "tenants.test", "", "/Client1/")},
		{name: "IDN punycode", host: "xn--bcher-kva.test", path: "/", want: dyn("buecher", "xn--bcher-kva.test", "", "/")},
		{name: "IDN punycode upper case", host: "XN--BCHER-KVA.TEST", path: "/", want: dyn("buecher", "xn--bcher-kva.test", "", "/")},
		{name: "IDN in unicode", host: "bücher.test", path: "/", want: dyn("buecher", "xn--bcher-kva.test", "", "/")},
		{name: "IDN in unicode upper case with a port", host: "BÜCHER.test.:8080", path: "/", want: dyn("buecher", "xn--bcher-kva.test", "", "/")},
		{name: "IDN in unicode, malformed", host: "bü cher.test", path: "/", errs: []error{ErrMalformedHost}},
		{name: "primary", host: "t3.test", path: "/p", want: want{schema: "t3", kind: KindDynamic, domain: "t3.test", rest: "/p", primary: "t3.test"}},
		{name: "redirect to primary", host: "old-t3.test", path: "/p", want: want{schema: "t3", kind: KindDynamic, domain: "old-t3.test", rest: "/p", primary: "t3.test", redirect: true}},
		{name: "redirect from a folder of the primary host", host: "t3.test", path: "/shop/cart", want: want{schema: "t3", kind: KindDynamic, domain: "t3.test", folder: "shop", rest: "/cart", primary: "t3.test", redirect: true}},
		{name: "table before fallback", host: "fallback.test", path: "/f/x", want: dyn("fallen", "fallback.test", "f", "/x")},
		{name: "fallback", host: "fallback.test", path: "/g/x", want: static("fallback.test", "acme.test", "/g/x")},
		{name: "fallback only tenant", host: "blog-fallback.test", path: "/", want: want{schema: "blog", kind: KindStatic, domain: "blog-fallback.test", primary: "blog-fallback.test", rest: "/"}},
		{name: "folder-only host, folder", host: "folders.test", path: "/a", want: dyn("foldered", "folders.test", "a", "/")},
		{name: "folder-only host, other folder", host: "folders.test", path: "/b", errs: []error{ErrNoTenant}},
		{name: "folder-only host, no folder", host: "folders.test", path: "/", errs: []error{ErrNoTenant}},
		{name: "unknown host", host: "unknown.test", path: "/", errs: []error{ErrNoTenant}},
		{name: "IPv4", host: "127.0.0.1:8080", path: "/", errs: []error{ErrNoTenant}},
		{name: "IPv6", host: "[::1]:8080", path: "/", errs: []error{ErrNoTenant}},
		{name: "public in the table", host: "public.test", path: "/", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{name: "reference in the table", host: "ref.test", path: "/", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{name: "static tenant in the table", host: "static.test", path: "/", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{name: "invalid schema in the table", host: "bad.test", path: "/", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{name: "pg_ schema in the table", host: "pg.test", path: "/", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{name: "empty host", host: "", path: "/", errs: []error{ErrMalformedHost}},
		{name: "over-long host", host: long, path: "/", errs: []error{ErrMalformedHost}},
		{name: "over-long label", host: strings.Repeat("a", 64) + ".test", path: "/", errs: []error{ErrMalformedHost}},
		{name: "empty label", host: "a..test", path: "/", errs: []error{ErrMalformedHost}},
		{name: "two trailing dots", host: "acme.test..", path: "/", errs: []error{ErrMalformedHost}},
		{name: "bad port", host: "acme.test:http", path: "/", errs: []error{ErrMalformedHost}},
		{name: "two ports", host: "acme.test:80:81", path: "/", errs: []error{ErrMalformedHost}},
		{name: "space", host: "acme .test", path: "/", errs: []error{ErrMalformedHost}},
		{name: "slash", host: "acme.test/x", path: "/", errs: []error{ErrMalformedHost}},
		{name: "user info", host: "u@acme.test", path: "/", errs: []error{ErrMalformedHost}},
		{name: "unclosed IPv6", host: "[::1", path: "/", errs: []error{ErrMalformedHost}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for round := range 2 { // the second answer comes from the cache
				tenant, rest, err := res.Resolve(context.Background(), tt.host, tt.path)
				if len(tt.errs) > 0 {
					for _, e := range tt.errs {
						if !errors.Is(err, e) {
							t.Fatalf("round %d: err = %v, want one that wraps %v", round, err, e)
						}
					}
					if tenant != (Tenant{}) || rest != tt.path {
						t.Fatalf("round %d: got %+v, %q with an error", round, tenant, rest)
					}
					continue
				}
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				w := tt.want
				got := want{tenant.Schema, tenant.Kind, tenant.Domain, tenant.Folder, rest, tenant.PrimaryDomain, tenant.PrimaryFolder, tenant.RedirectToPrimary}
				if got != w {
					t.Fatalf("round %d:\n got %+v\nwant %+v", round, got, w)
				}
			}
		})
	}
}

func TestResolveStripWWW(t *testing.T) {
	db := routingDB(t)
	res := newResolver(t, routingConfig(), db, Options{StripWWW: true})
	for _, host := range []string{"www.t3.test", "WWW.t3.test.:80", "t3.test"} {
		tenant, _, err := res.Resolve(context.Background(), host, "/")
		if err != nil || tenant.Schema != "t3" || tenant.Domain != "t3.test" {
			t.Errorf("Resolve(%q) = %+v, %v; want t3 on t3.test", host, tenant, err)
		}
	}
	if tenant, _, err := res.Resolve(context.Background(), "www.acme.test", "/"); err != nil || tenant.Schema != "www" {
		t.Errorf("www.acme.test: %+v, %v; want the static tenant www", tenant, err)
	}
	// "www." alone is a host, not a prefix.
	if _, _, err := res.Resolve(context.Background(), "www", "/"); !errors.Is(err, ErrNoTenant) {
		t.Errorf("www: %v, want ErrNoTenant", err)
	}

	cfg := routingConfig()
	cfg.Static[0].Domains = append(cfg.Static[0].Domains, "www.acme.test")
	if _, err := New(cfg, db, Options{StripWWW: true, DisableListen: true}); err == nil || !strings.Contains(err.Error(), "StripWWW") {
		t.Errorf("New with a www. static domain and StripWWW: %v, want an error", err)
	}
}

func TestLookup(t *testing.T) {
	db := routingDB(t)
	res := newResolver(t, routingConfig(), db, Options{})
	tests := []struct {
		schema string
		want   Tenant
		errs   []error
	}{
		{schema: "www", want: Tenant{Schema: "www", Kind: KindStatic, PrimaryDomain: "acme.test"}},
		{schema: "blog", want: Tenant{Schema: "blog", Kind: KindStatic, PrimaryDomain: "blog-fallback.test"}},
		{schema: "t3", want: Tenant{Schema: "t3", Kind: KindDynamic, PrimaryDomain: "t3.test"}},
		{schema: "client1", want: Tenant{Schema: "client1", Kind: KindDynamic}},
		{schema: "nobody", errs: []error{ErrNoTenant}},
		{schema: "public", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{schema: "PUBLIC", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{schema: "sample", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{schema: "Blog", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{schema: "Bad-Name", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{schema: "pgschemas_x", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
		{schema: "", errs: []error{ErrNoTenant, driver.ErrInvalidSchemaName}},
	}
	for _, tt := range tests {
		for round := range 2 {
			got, err := res.Lookup(context.Background(), tt.schema)
			for _, e := range tt.errs {
				if !errors.Is(err, e) {
					t.Errorf("Lookup(%q) round %d: err = %v, want one that wraps %v", tt.schema, round, err, e)
				}
			}
			if len(tt.errs) == 0 && err != nil || got != tt.want {
				t.Errorf("Lookup(%q) round %d = %+v, %v; want %+v", tt.schema, round, got, err, tt.want)
			}
		}
	}
}

func TestStaticOnly(t *testing.T) {
	cfg := &schemaset.Config{Static: []schemaset.Static{{Name: "www", Domains: []string{"acme.test"}}}}
	res := newResolver(t, cfg, nil, Options{}) // no database: the set has no dynamic tenants
	if tenant, _, err := res.Resolve(context.Background(), "acme.test", "/"); err != nil || tenant.Schema != "www" {
		t.Errorf("acme.test: %+v, %v", tenant, err)
	}
	if _, _, err := res.Resolve(context.Background(), "other.test", "/x/"); !errors.Is(err, ErrNoTenant) {
		t.Errorf("other.test: %v, want ErrNoTenant", err)
	}
	if _, err := res.Lookup(context.Background(), "other"); !errors.Is(err, ErrNoTenant) {
		t.Errorf("Lookup(other): %v, want ErrNoTenant", err)
	}
	if n, err := res.Preload(context.Background()); n != 0 || err != nil {
		t.Errorf("Preload: %d, %v", n, err)
	}
	if res.Listening() {
		t.Error("a static-only resolver listens")
	}
}

// fakeConnector opens a *sql.DB of a driver that is neither pgx's nor pgschemas'. It never connects.
type fakeConnector struct{}

func (fakeConnector) Connect(context.Context) (sqldriver.Conn, error) { return nil, errFake }
func (fakeConnector) Driver() sqldriver.Driver                        { return fakeDriver{} }

type fakeDriver struct{}

func (fakeDriver) Open(string) (sqldriver.Conn, error) { return nil, errFake }

var errFake = errors.New("fake driver: no connection")

func TestNewErrors(t *testing.T) {
	db, dsn := openDB(t, "pgschemas")
	one := openDSN(t, "pgschemas", dsn)
	one.SetMaxOpenConns(1)
	cfg := routingConfig()
	bad := routingConfig()
	bad.Static[1].Name = "public"
	tests := []struct {
		name string
		cfg  *schemaset.Config
		db   *sql.DB
		opts Options
		want string
	}{
		{"nil config", nil, db, Options{}, "nil config"},
		{"invalid config", bad, db, Options{}, "public"},
		{"negative cache size", cfg, db, Options{CacheSize: -1}, "CacheSize"},
		{"negative TTL", cfg, db, Options{TTL: -1}, "TTL"},
		{"dynamic without a database", cfg, nil, Options{}, "nil"},
		{"dynamic without a database, no LISTEN", cfg, nil, Options{DisableListen: true}, "nil"},
		{"one connection", cfg, one, Options{}, "one open connection"},
		{"other driver", cfg, sql.OpenDB(fakeConnector{}), Options{}, "DisableListen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.cfg, tt.db, tt.opts)
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want it to mention %q", err, tt.want)
			}
		})
	}
	// Both refusals of the pool are lifted by DisableListen.
	for _, d := range []*sql.DB{one, sql.OpenDB(fakeConnector{})} {
		r, err := New(cfg, d, Options{DisableListen: true})
		if err != nil {
			t.Fatalf("New with DisableListen: %v", err)
		}
		r.Close()
	}
}
