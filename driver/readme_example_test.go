package driver_test

// The examples of README.md's driver section, kept here so that they compile and run: the README's
// Go blocks must each stand, line for line, in an Example (internal/readme checks it).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// The driver with database/sql: the request's context names the tenant, the SQL does not.
func Example_databaseSQL() {
	exampleDB().Close() // the schemas acme and globex, each with notes
	dsn := pgtest.ExampleDSN()
	r := httptest.NewRequest("GET", "http://acme.example.com/notes", nil)

	db, err := sql.Open("pgschemas", dsn) // any pgx DSN, plus the pgschemas_ parameters
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// In a handler, once the tenant is known (httpx.Middleware does this for you):
	ctx := driver.WithSchema(r.Context(), "acme")
	var title string
	err = db.QueryRowContext(ctx, "SELECT title FROM notes WHERE id = $1", 1).Scan(&title) // acme.notes

	fmt.Println(title, err)
	// Output:
	// acme: ship the rockets <nil>
}

// pgx native: a pgxpool.Config that ConfigurePool prepared runs every operation in the schema of
// its context.
func Example_pgxpool() {
	exampleDB().Close() // the schemas acme and globex, each with notes
	ctx := context.Background()
	dsn := pgtest.ExampleDSN()

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		log.Fatal(err)
	}
	if err := driver.ConfigurePool(cfg, driver.PoolOptions{}); err != nil {
		log.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	// Query, QueryRow, Exec, Begin, SendBatch, CopyFrom and Acquire: in the context's schema.
	var title string
	err = pool.QueryRow(driver.WithSchema(ctx, "globex"), "SELECT title FROM notes").Scan(&title)

	fmt.Println(title, err)
	// Output:
	// globex: hire a villain <nil>
}

// A job carries its tenant as a driver.Tenant: a schema name that round-trips through JSON (or any
// text encoding) and is validated on the way in.
func Example_jobs() {
	db := exampleDB()
	defer db.Close()
	ctx := context.Background()
	r := httptest.NewRequest("GET", "http://acme.example.com/notes", nil)
	r = r.WithContext(driver.WithSchema(r.Context(), "acme")) // what httpx.Middleware does

	type Job struct {
		Tenant driver.Tenant `json:"tenant"` // validated when unmarshalled
		Title  string        `json:"title"`
	}

	// The producer, in a request for acme:
	tenant, err := driver.TenantOf(r.Context())
	if err != nil {
		log.Fatal(err)
	}
	payload, err := json.Marshal(Job{Tenant: tenant, Title: "acme: polish the rockets"})
	if err != nil {
		log.Fatal(err)
	}

	// The worker, later, elsewhere:
	var job Job
	if err := json.Unmarshal(payload, &job); err != nil {
		log.Fatal(err) // an invalid name stops here (driver.ErrInvalidSchemaName)
	}
	_, err = db.ExecContext(job.Tenant.Context(ctx), "INSERT INTO notes (title) VALUES ($1)", job.Title)
	if err != nil {
		log.Fatal(err)
	}

	// A goroutine that outlives its request keeps the tenant, without the request's cancellation:
	bg := driver.WithSchemaOf(context.Background(), r.Context())

	var n int
	if err := db.QueryRowContext(bg, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(payload))
	fmt.Println(n, "acme notes")
	// Output:
	// {"tenant":"acme","title":"acme: polish the rockets"}
	// 2 acme notes
}

// The pooler mode: behind a pooler in transaction mode, every statement carries its own path.
func Example_pooler() {
	exampleDB().Close() // the schemas acme and globex, each with notes
	ctx := context.Background()
	dsn := pgtest.ExampleDSN()

	cfg, err := driver.ParseConfig(dsn) // or pgschemas_pooler=transaction in the DSN
	if err != nil {
		log.Fatal(err)
	}
	cfg.Pooler = driver.PoolTransaction // PgBouncer's pool_mode=transaction, RDS Proxy, ...
	db, err := driver.OpenDB(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var title string
	err = db.QueryRowContext(driver.WithSchema(ctx, "acme"), "SELECT title FROM notes").Scan(&title)

	fmt.Println(title, err)
	// Output:
	// acme: ship the rockets <nil>
}
