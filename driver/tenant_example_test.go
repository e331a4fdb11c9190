package driver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"sync"

	"github.com/pgschemas/pgschemas/driver"
)

// A job payload carries its tenant as a Tenant; the worker runs the job in that tenant's schema,
// and a payload with an invalid name never reaches the database.
func ExampleTenant() {
	db := exampleDB()
	defer db.Close()

	type job struct {
		Tenant driver.Tenant `json:"tenant"`
		Title  string        `json:"title"`
	}
	// The producer, in a request for acme.
	tenant, err := driver.TenantOf(driver.WithSchema(context.Background(), "acme"))
	if err != nil {
		log.Fatal(err)
	}
	payload, err := json.Marshal(job{Tenant: tenant, Title: "acme: polish the rockets"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(payload))

	// The worker.
	var j job
	if err := json.Unmarshal(payload, &j); err != nil {
		log.Fatal(err)
	}
	ctx := j.Tenant.Context(context.Background())
	if _, err := db.ExecContext(ctx, "INSERT INTO notes(title) VALUES ($1)", j.Title); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "acme notes")

	err = json.Unmarshal([]byte(`{"tenant": "acme; DROP SCHEMA acme", "title": "x"}`), &j)
	fmt.Println(errors.Is(err, driver.ErrInvalidSchemaName))
	// Output:
	// {"tenant":"acme","title":"acme: polish the rockets"}
	// 2 acme notes
	// true
}

// WithSchemaOf carries the tenant of a request to work that outlives the request.
func ExampleWithSchemaOf() {
	db := exampleDB()
	defer db.Close()

	request, endRequest := context.WithCancel(driver.WithSchema(context.Background(), "globex"))
	var wg sync.WaitGroup
	ctx := driver.WithSchemaOf(context.Background(), request) // globex, and not ended by the request
	endRequest()
	wg.Go(func() {
		var title string
		if err := db.QueryRowContext(ctx, "SELECT title FROM notes WHERE id = 1").Scan(&title); err != nil {
			log.Fatal(err)
		}
		fmt.Println(title)
	})
	wg.Wait()
	// Output:
	// globex: hire a villain
}
