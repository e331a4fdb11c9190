package schemaset_test

// The examples of README.md's sections on domains, renames, the tenant list and events (see
// readme_example_test.go).

import (
	"context"
	"fmt"
	"log"

	"github.com/pgschemas/pgschemas/schemaset"
)

// Domains, a rename and the tenant list from Go. Every change reaches the routers of every
// process within a second.
func Example_domains() {
	ctx := context.Background()
	engine, db := exampleEngine(ctx)
	defer db.Close()
	if err := engine.CreateTenant(ctx, "initech", schemaset.Domain{Domain: "initech.example.com"}); err != nil {
		log.Fatal(err)
	}

	if _, err := engine.AddDomain(ctx, "initech", schemaset.Domain{Domain: "www.initech.example.com", RedirectToPrimary: true}); err != nil {
		log.Fatal(err) // errors.Is: schemaset.ErrInvalidDomain, ErrDomainTaken (it names the owner), ErrNotTenant
	}
	if err := engine.RenameTenant(ctx, "initech", "initrode"); err != nil {
		log.Fatal(err) // schema, row, domains, role and records, in one transaction
	}
	tenants, err := engine.ListTenants(ctx, schemaset.TenantListOptions{Stats: true}) // one query
	if err != nil {
		log.Fatal(err) // each t in tenants: t.Name, t.Domains, t.Stats.SizeBytes, .Tables, .EstimatedRows, .AppliedAt
	}
	for _, t := range tenants {
		if t.Name == "initrode" { // other examples share the database
			fmt.Println(t.Name, t.Domains, t.Stats.Tables, "tables")
		}
	}

	_, err = engine.AddDomain(ctx, "initrode", schemaset.Domain{Domain: "*.initech.example.com"})
	fmt.Println(err)
	if err := engine.DropTenant(ctx, "initrode"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// initrode [initech.example.com www.initech.example.com] 3 tables
	// schemaset: add domain *.initech.example.com to "initrode": invalid domain host "*.initech.example.com": has the wildcard '*': a domain routes one host name; add each host
}

// Events: Options.OnEvent receives one event per tenant change and per schema applied.
// schemaset.LogEvents(logger) is an OnEvent that logs them through slog.
func Example_events() {
	ctx := context.Background()
	applied, db := exampleEngine(ctx) // the sample set, applied
	defer db.Close()
	set := applied.Set()

	engine := schemaset.New(set, db, schemaset.Options{
		OnEvent: func(ev schemaset.Event) { // once each change committed; apply's workers call it concurrently
			fmt.Println(ev.Kind, ev.Op, ev.Schema, ev.Source, ev.Err)
		},
	})

	targets, err := engine.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := engine.Apply(ctx, targets, schemaset.ApplyOptions{}); err != nil { // up to date: no event
		log.Fatal(err)
	}
	if err := engine.CreateTenant(ctx, "vandelay"); err != nil {
		log.Fatal(err)
	}
	if err := engine.DropTenant(ctx, "vandelay"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// created create_tenant vandelay cloned <nil>
	// dropped drop_tenant vandelay  <nil>
}
