package resolve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/schemaset"
)

// TestEngineChangesReachRouters: the engine's domain and tenant operations (AddDomain,
// SetPrimaryDomain, RemoveDomain, RenameTenant) reach a resolver of another pool within a second,
// with a TTL too long to matter: cached answers, positive and negative, by host and by name, are
// dropped. An internationalized host added in Unicode routes when requested in Unicode or in
// punycode.
func TestEngineChangesReachRouters(t *testing.T) {
	ctx := context.Background()
	db, dsn := openDB(t, "pgx")
	set, err := schemaset.LoadFile("../testdata/pgschemas.hcl")
	if err != nil {
		t.Fatal(err)
	}
	e := schemaset.New(set, db, schemaset.Options{})
	targets, err := e.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := e.Apply(ctx, targets, schemaset.ApplyOptions{}); err != nil || rep.Err() != nil {
		t.Fatal(err, rep.Err())
	}
	r := newResolver(t, set.Config, openDSN(t, "pgschemas", dsn), Options{TTL: time.Hour})
	waitListening(t, r)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustAdd := func(_ schemaset.TenantDomain, err error) {
		t.Helper()
		must(err)
	}
	must(e.CreateTenant(ctx, "acme", schemaset.Domain{Domain: "acme.test"}))
	must(e.CreateTenant(ctx, "bare"))

	routes := func(step, host, path, want, primary string) {
		t.Helper()
		waitFor(t, notifyLimit, step+": "+host+path+" routes to "+want+" (primary "+primary+")", func() bool {
			tenant, _, err := r.Resolve(ctx, host, path)
			return tenant.Schema == want && tenant.PrimaryDomain == primary || want == "none" && errors.Is(err, ErrNoTenant)
		})
	}
	names := func(step, name string, found bool) {
		t.Helper()
		waitFor(t, notifyLimit, step+": Lookup "+name, func() bool {
			_, err := r.Lookup(ctx, name)
			return (err == nil) == found && (found || errors.Is(err, ErrNoTenant))
		})
	}
	// Cache first, so that what follows proves invalidation.
	routes("before", "acme.test", "/", "acme", "acme.test")
	routes("before", "new.test", "/", "none", "")
	routes("before", "xn--nicode-2ya.test", "/", "none", "")
	names("before", "acme", true)
	names("before", "bare", true)
	names("before", "acme2", false)
	names("before", "bare2", false)

	mustAdd(e.AddDomain(ctx, "acme", schemaset.Domain{Domain: "new.test"}))
	routes("added", "new.test", "/", "acme", "acme.test")
	mustAdd(e.AddDomain(ctx, "acme", schemaset.Domain{Domain: "Ünicode.test", Primary: true}))
	routes("added in Unicode", "xn--nicode-2ya.test", "/", "acme", "xn--nicode-2ya.test")
	routes("requested in Unicode", "ünicode.test", "/", "acme", "xn--nicode-2ya.test")
	routes("primary changed", "acme.test", "/", "acme", "xn--nicode-2ya.test")
	_, err = e.SetPrimaryDomain(ctx, schemaset.Domain{Domain: "acme.test"})
	must(err)
	routes("set primary", "new.test", "/", "acme", "acme.test")

	must(e.RenameTenant(ctx, "acme", "acme2"))
	routes("renamed", "acme.test", "/", "acme2", "acme.test")
	routes("renamed", "new.test", "/", "acme2", "acme.test")
	names("renamed", "acme", false)
	names("renamed", "acme2", true)
	// A tenant without domains: only the notification by name tells the router.
	must(e.RenameTenant(ctx, "bare", "bare2"))
	names("renamed without domains", "bare", false)
	names("renamed without domains", "bare2", true)

	_, err = e.RemoveDomain(ctx, schemaset.Domain{Domain: "new.test"})
	must(err)
	routes("removed", "new.test", "/", "none", "")
	must(e.DropTenant(ctx, "acme2"))
	routes("dropped", "acme.test", "/", "none", "")
}

// TestStaticUnicodeDomain: a static domain written in Unicode in the config routes requests for
// its punycode form, as browsers send it, and for its Unicode form, in any case.
func TestStaticUnicodeDomain(t *testing.T) {
	cfg := &schemaset.Config{Static: []schemaset.Static{{Name: "shop", Domains: []string{"Bücher.test"}}}}
	r, err := New(cfg, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, host := range []string{"xn--bcher-kva.test", "bücher.test", "BÜCHER.TEST:8080"} {
		got, _, err := r.Resolve(context.Background(), host, "/")
		if err != nil || got.Schema != "shop" || got.Domain != "xn--bcher-kva.test" || got.PrimaryDomain != "xn--bcher-kva.test" {
			t.Errorf("Resolve(%q) = %+v, %v; want shop on xn--bcher-kva.test", host, got, err)
		}
	}
}
