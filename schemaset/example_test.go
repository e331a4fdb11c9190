package schemaset_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// Load the sample set: the config, and the apps it names.
func ExampleLoadFile() {
	set, err := schemaset.LoadFile("../testdata/pgschemas.hcl")
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range set.StaticTargets() {
		fmt.Println(t.Kind, t.Schema, set.AppsOf(t))
	}
	fmt.Println("dynamic tenants take", set.Config.Dynamic.Apps)
	// Output:
	// public public [shared]
	// static www [auth main]
	// static blog [auth blog]
	// reference sample [auth tenant]
	// dynamic tenants take [auth tenant]
}

// Apply every schema of the set, then create a tenant and run code in each tenant's schema. The
// examples share one throwaway database, in order.
func ExampleEngine_Apply() {
	ctx := context.Background()
	set, err := schemaset.LoadFile("../testdata/pgschemas.hcl")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("pgx", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	engine := schemaset.New(set, db, schemaset.Options{})

	targets, err := engine.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		log.Fatal(err)
	}
	report, err := engine.Apply(ctx, targets, schemaset.ApplyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := report.Err(); err != nil {
		log.Fatal(err)
	}
	for _, r := range report.Results {
		fmt.Println(r.Schema, r.Outcome)
	}
	// Output:
	// public applied
	// www applied
	// blog applied
	// sample applied
}

func ExampleEngine_CreateTenant() {
	ctx := context.Background()
	engine, db := exampleEngine(ctx) // the sample set, applied
	defer db.Close()

	// The reference is current, so the tenant is a clone of it.
	d, err := schemaset.ParseDomain("customers.example.test/acme")
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.CreateTenant(ctx, "acme", d); err != nil {
		log.Fatal(err)
	}
	tenants, err := engine.Tenants(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tenants)

	// Dropping needs the name of a dynamic tenant: static ones are refused.
	fmt.Println(engine.DropTenant(ctx, "www"))
	// Output:
	// [acme]
	// schemaset: drop "www": not a dynamic tenant: it is the set's static "www"
}

// Run a query in each dynamic tenant and the reference, with the schema in the context: a pool on
// the pgschemas driver sets each connection's search path from it.
func ExampleEngine_ForEach() {
	ctx := context.Background()
	set, err := schemaset.LoadFile("../testdata/pgschemas.hcl")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("pgx", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	tenantDB, err := sql.Open("pgschemas", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer tenantDB.Close()
	engine := schemaset.New(set, db, schemaset.Options{})
	targets, err := engine.Select(ctx, schemaset.Selector{Tenants: true})
	if err != nil {
		log.Fatal(err)
	}
	err = engine.ForEach(ctx, targets, 1, func(ctx context.Context, t schemaset.Target) error {
		var schema string
		if err := tenantDB.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return err
		}
		fmt.Println(t.Kind, schema)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// reference sample
	// dynamic acme
}
