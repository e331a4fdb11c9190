package schemaset_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// Keep two pre-cloned schemas ready (dynamic { pool = 2 } in the config does the same), and create
// a tenant by claiming one. It runs after the examples of example_test.go, on their database.
func ExampleEngine_FillPool() {
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
	engine := schemaset.New(set, db, schemaset.Options{PoolSize: 2})

	fill, err := engine.FillPool(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready:", fill.Ready)

	// The claim renames a pooled schema to globex, in one short transaction.
	if err := engine.CreateTenant(ctx, "globex"); err != nil {
		log.Fatal(err)
	}
	status, err := engine.PoolStatus(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready after the claim:", status.Ready, "of", status.Size)
	tenants, err := engine.Tenants(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tenants)
	// Output:
	// ready: 2
	// ready after the claim: 1 of 2
	// [acme globex]
}
