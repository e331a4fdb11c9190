package resolve

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/schemaset"
)

// fuzzConfig is the sample set's static tenants with a fallback domain, and a dynamic block with a
// reference.
func fuzzConfig(t testing.TB, dynamic bool) *schemaset.Config {
	src := `
public { apps = ["shared"] }
static "www" {
  apps             = ["auth", "main"]
  domains          = ["localhost", "www.example.test"]
  fallback_domains = ["example.test"]
}
static "blog" {
  apps    = ["auth", "blog"]
  domains = ["blog.example.test", "Help.Example.Test."]
}
`
	if dynamic {
		src += `dynamic {
  apps            = ["auth", "tenant"]
  clone_reference = "sample"
}
`
	}
	cfg, err := schemaset.ParseConfig([]byte(src), "pgschemas.hcl")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// FuzzResolveStatic checks Resolve on a Resolver of static tenants, which needs no database: any
// host and path either give an error that wraps ErrMalformedHost or ErrNoTenant, or a static
// tenant of the config (never public) with the path untouched, whose Domain is the normalized host
// and resolves again to the same tenant.
func FuzzResolveStatic(f *testing.F) {
	for _, s := range []string{"localhost", "WWW.example.test:8080", "help.example.test.", "example.test", "acme.example.test", "[::1]:80", "a..b", ""} {
		f.Add(s, "/shop/cart")
	}
	cfg := fuzzConfig(f, false)
	names := map[string]bool{}
	for _, s := range cfg.Static {
		names[s.Name] = true
	}
	r, err := New(cfg, nil, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host, path string) {
		ctx := context.Background()
		tn, rest, err := r.Resolve(ctx, host, path)
		if err != nil {
			if !errors.Is(err, ErrMalformedHost) && !errors.Is(err, ErrNoTenant) {
				t.Fatalf("%q %q: error %v wraps neither ErrMalformedHost nor ErrNoTenant", host, path, err)
			}
			if rest != path {
				t.Fatalf("%q %q: error, and the path became %q", host, path, rest)
			}
			return
		}
		if tn.Kind != KindStatic || !names[tn.Schema] || strings.EqualFold(tn.Schema, "public") {
			t.Fatalf("%q %q: tenant %+v", host, path, tn)
		}
		if rest != path || tn.Folder != "" {
			t.Fatalf("%q %q: a static tenant took folder %q, rest %q", host, path, tn.Folder, rest)
		}
		again, _, err := r.Resolve(ctx, tn.Domain, path)
		if err != nil || again != tn {
			t.Fatalf("%q gives %+v, its domain %q gives %+v, %v", host, tn, tn.Domain, again, err)
		}
	})
}

// FuzzRoutable checks the rule that keeps the domain table from routing to what is not a dynamic
// tenant: a schema name it lets through is a valid schema name, and is not public, the reference,
// a static tenant or a reserved name, in any case.
func FuzzRoutable(f *testing.F) {
	for _, s := range []string{"acme", "public", "PUBLIC", "sample", "Sample", "www", "blog", schemaset.ReservedPrefix + "x", "", "a b", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	r := &Resolver{static: map[string]Tenant{}, fallback: map[string]Tenant{}, byName: map[string]Tenant{},
		reserved: map[string]bool{"public": true}}
	rc, err := fuzzConfig(f, true).Routing()
	if err != nil {
		f.Fatal(err)
	}
	if err := r.addStatic(rc); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, schema string) {
		err := r.routable(schema)
		if err != nil {
			if !errors.Is(err, driver.ErrInvalidSchemaName) {
				t.Fatalf("%q: error %v does not wrap driver.ErrInvalidSchemaName", schema, err)
			}
			return
		}
		if driver.CheckSchemaName(schema) != nil {
			t.Fatalf("%q: routable, but not a valid schema name", schema)
		}
		low := strings.ToLower(schema)
		for _, never := range []string{"public", "sample", "www", "blog"} {
			if low == never {
				t.Fatalf("%q: routable, but it is %s", schema, never)
			}
		}
		if strings.HasPrefix(low, strings.ToLower(schemaset.ReservedPrefix)) {
			t.Fatalf("%q: routable, but it has the reserved prefix", schema)
		}
	})
}
