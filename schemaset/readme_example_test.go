package schemaset_test

// The examples of README.md's engine and background-job sections, kept here so that they compile
// and run: the README's Go blocks must each stand, line for line, in an Example (internal/readme
// checks it).

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// The engine from Go: apply the set, then create a tenant, which clones the reference. The
// examples share one database; this one drops the tenant it made.
func Example_engine() {
	ctx := context.Background()
	configFile := "../testdata/pgschemas.hcl"
	db, err := sql.Open("pgx", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	set, err := schemaset.LoadFile(configFile) // or schemaset.Load(embedFS, "pgschemas.hcl")
	if err != nil {
		log.Fatal(err)
	}
	engine := schemaset.New(set, db, schemaset.Options{}) // db: sql.Open("pgx", dsn)
	targets, err := engine.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		log.Fatal(err)
	}
	report, err := engine.Apply(ctx, targets, schemaset.ApplyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := report.Err(); err != nil { // the schemas that failed or were refused
		log.Fatal(err)
	}
	domain, err := schemaset.ParseDomain("initech.example.com")
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.CreateTenant(ctx, "initech", domain); err != nil {
		log.Fatal(err) // errors.Is(err, schemaset.ErrReferenceBehind): apply first
	}

	var users int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM initech.users").Scan(&users); err != nil {
		log.Fatal(err)
	}
	fmt.Println("initech has a users table with", users, "rows")
	if err := engine.DropTenant(ctx, "initech"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// initech has a users table with 0 rows
}

// Background work per tenant: ForEach runs a func in each selected schema, with the schema in its
// context, at most 4 at once, and collects the errors per schema.
func Example_forEach() {
	ctx := context.Background()
	engine, admin := exampleEngine(ctx)
	defer admin.Close()
	for _, name := range []string{"hooli", "umbrella"} {
		if err := engine.CreateTenant(ctx, name); err != nil {
			log.Fatal(err)
		}
		defer engine.DropTenant(ctx, name)
	}
	db, err := sql.Open("pgschemas", pgtest.ExampleDSN()) // the pgschemas driver
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	targets, err := engine.Select(ctx, schemaset.Selector{Dynamic: true})
	if err != nil {
		log.Fatal(err)
	}
	err = engine.ForEach(ctx, targets, 4, func(ctx context.Context, t schemaset.Target) error {
		_, err := db.ExecContext(ctx, "DELETE FROM notes WHERE created_at < now() - interval '1 year'") // in t.Schema
		return err
	})
	if err != nil {
		log.Fatal(err) // joins one *schemaset.TargetError per schema that failed; the others ran
	}

	// A failure in one schema does not stop the others, and names its schema.
	err = engine.ForEach(ctx, targets, 4, func(ctx context.Context, t schemaset.Target) error {
		if t.Schema == "umbrella" {
			_, err := db.ExecContext(ctx, "SELECT * FROM no_such_table")
			return err
		}
		return nil
	})
	fmt.Println(err)
	// Output:
	// dynamic "umbrella": ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01)
}

// exampleEngine returns an engine over the examples' database, where it applied the sample set,
// and the database, to close.
func exampleEngine(ctx context.Context) (*schemaset.Engine, *sql.DB) {
	set, err := schemaset.LoadFile("../testdata/pgschemas.hcl")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("pgx", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	engine := schemaset.New(set, db, schemaset.Options{})
	targets, err := engine.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := engine.Apply(ctx, targets, schemaset.ApplyOptions{}); err != nil {
		log.Fatal(err)
	}
	return engine, db
}
