package resolve_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

// exampleSet returns a config with the static tenant www and dynamic tenants, and a database whose
// domain table puts acme on acme.example and globex in the folder /globex of shared.example.
func exampleSet() (*schemaset.Config, *sql.DB) {
	db, err := sql.Open("pgschemas", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	if err := schemaset.EnsureRegistry(context.Background(), db); err != nil {
		log.Fatal(err)
	}
	_, err = db.Exec(`
		DELETE FROM public.pgschemas_tenant;
		INSERT INTO public.pgschemas_tenant (schema_name) VALUES ('acme'), ('globex');
		INSERT INTO public.pgschemas_domain (domain, folder, tenant, is_primary) VALUES
			('acme.example', '', 'acme', true), ('shared.example', 'globex', 'globex', true);`)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &schemaset.Config{
		Static:  []schemaset.Static{{Name: "www", Domains: []string{"example.com"}}},
		Dynamic: &schemaset.Dynamic{},
	}
	return cfg, db
}

// Resolve finds the tenant by host and folder; the caller then runs its queries in the tenant's
// schema with driver.WithSchema.
func ExampleResolver_Resolve() {
	cfg, db := exampleSet()
	defer db.Close()
	res, err := resolve.New(cfg, db, resolve.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer res.Close()

	ctx := context.Background()
	for _, req := range []struct{ host, path string }{
		{"example.com", "/pricing"},
		{"ACME.example:8443", "/notes/1"},
		{"shared.example", "/globex/notes/1"},
	} {
		t, rest, err := res.Resolve(ctx, req.host, req.path)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s%s: %s tenant %s, folder %q, path %s\n", req.host, req.path, t.Kind, t.Schema, t.Folder, rest)
		_ = driver.WithSchema(ctx, t.Schema) // the context for the tenant's queries
	}
	_, _, err = res.Resolve(ctx, "unknown.example", "/")
	fmt.Println(errors.Is(err, resolve.ErrNoTenant))
	_, _, err = res.Resolve(ctx, "bad..host", "/")
	fmt.Println(errors.Is(err, resolve.ErrMalformedHost))
	// Output:
	// example.com/pricing: static tenant www, folder "", path /pricing
	// ACME.example:8443/notes/1: dynamic tenant acme, folder "", path /notes/1
	// shared.example/globex/notes/1: dynamic tenant globex, folder "globex", path /notes/1
	// true
	// true
}

// exampleResolver returns a resolver on exampleSet, and a func that closes both.
func exampleResolver(opts resolve.Options) (*resolve.Resolver, func()) {
	cfg, db := exampleSet()
	res, err := resolve.New(cfg, db, opts)
	if err != nil {
		log.Fatal(err)
	}
	return res, func() { res.Close(); db.Close() }
}

// Lookup finds a tenant by name, for routing that does not go by host, such as a job queue.
func ExampleResolver_Lookup() {
	res, done := exampleResolver(resolve.Options{})
	defer done()

	t, err := res.Lookup(context.Background(), "globex")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Schema, t.Kind, t.PrimaryDomain, t.PrimaryFolder)
	_, err = res.Lookup(context.Background(), "public")
	fmt.Println(errors.Is(err, resolve.ErrNoTenant))
	// Output:
	// globex dynamic shared.example globex
	// true
}

// Preload fills the cache in one query when a process starts, so that first requests do not each
// wait for a query.
func ExampleResolver_Preload() {
	res, done := exampleResolver(resolve.Options{})
	defer done()

	n, err := res.Preload(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "domains cached")
	res.Resolve(context.Background(), "acme.example", "/")
	fmt.Println(res.Stats().Loads, "queries since")
	// Output:
	// 2 domains cached
	// 0 queries since
}
