package driver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// exampleDB opens the driver on the tests' throwaway database, with schemas acme and globex that
// each hold notes(id, title) and one note. In a service, the DSN comes from its configuration.
func exampleDB() *sql.DB {
	db, err := sql.Open("pgschemas", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	_, err = db.Exec(`
		DROP SCHEMA IF EXISTS acme CASCADE; DROP SCHEMA IF EXISTS globex CASCADE;
		CREATE SCHEMA acme;   CREATE TABLE acme.notes(id serial PRIMARY KEY, title text);
		CREATE SCHEMA globex; CREATE TABLE globex.notes(id serial PRIMARY KEY, title text);
		INSERT INTO acme.notes(title) VALUES ('acme: ship the rockets');
		INSERT INTO globex.notes(title) VALUES ('globex: hire a villain');`)
	if err != nil {
		log.Fatal(err)
	}
	return db
}

// Each operation runs in the schema that its context names; the SQL never names a schema.
func ExampleWithSchema() {
	db := exampleDB()
	defer db.Close()

	for _, tenant := range []string{"acme", "globex"} {
		ctx := driver.WithSchema(context.Background(), tenant)
		var title string
		if err := db.QueryRowContext(ctx, "SELECT title FROM notes WHERE id = $1", 1).Scan(&title); err != nil {
			log.Fatal(err)
		}
		fmt.Println(title)
	}
	// Output:
	// acme: ship the rockets
	// globex: hire a villain
}

// A missing schema is an error, never a silent fall-through to public's tables.
func ExampleWithSchema_missingSchema() {
	db := exampleDB()
	defer db.Close()

	ctx := driver.WithSchema(context.Background(), "initech")
	_, err := db.ExecContext(ctx, "INSERT INTO notes(title) VALUES ('lost')")
	fmt.Println(errors.Is(err, driver.ErrSchemaNotFound))
	fmt.Println(err)
	// Output:
	// true
	// pgschemas: schema "initech": schema not found
}

// A transaction is bound to the schema of BeginTx's context.
func ExampleWithSchema_transaction() {
	db := exampleDB()
	defer db.Close()

	ctx := driver.WithSchema(context.Background(), "acme")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	// A context without a schema runs in the transaction's schema...
	if _, err := tx.ExecContext(context.Background(), "INSERT INTO notes(title) VALUES ('acme: more rockets')"); err != nil {
		log.Fatal(err)
	}
	// ...and one for another schema is refused.
	_, err = tx.ExecContext(driver.WithSchema(ctx, "globex"), "DELETE FROM notes")
	fmt.Println(errors.Is(err, driver.ErrSchemaMismatch))
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "acme notes")
	// Output:
	// true
	// 2 acme notes
}

func ExampleSchemaFrom() {
	ctx := driver.WithSchema(context.Background(), "acme")
	name, ok := driver.SchemaFrom(ctx)
	fmt.Println(name, ok)
	_, ok = driver.SchemaFrom(context.Background())
	fmt.Println(ok)
	// Output:
	// acme true
	// false
}

func ExampleCheckSchemaName() {
	for _, name := range []string{"acme", "Acme_2", "x; DROP TABLE t", "pg_toast", "public"} {
		fmt.Println(driver.CheckSchemaName(name))
	}
	// Output:
	// <nil>
	// <nil>
	// invalid schema name "x; DROP TABLE t": character ';' at byte 1: must match ^[_a-zA-Z][_a-zA-Z0-9]{0,62}$
	// invalid schema name "pg_toast": names starting with pg_ are reserved by PostgreSQL
	// invalid schema name "public": public is shared and is never a tenant; use a context without a schema
}

// OpenDB takes the options as a Config; ParseConfig reads them from a DSN.
func ExampleOpenDB() {
	cfg, err := driver.ParseConfig(pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	cfg.ExtraSearchPaths = []string{"extensions"}
	db, err := driver.OpenDB(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA IF NOT EXISTS extensions; CREATE SCHEMA IF NOT EXISTS acme"); err != nil {
		log.Fatal(err)
	}
	var path string
	if err := db.QueryRowContext(driver.WithSchema(context.Background(), "acme"), "SHOW search_path").Scan(&path); err != nil {
		log.Fatal(err)
	}
	fmt.Println(path)
	// Output:
	// "acme", public, "extensions", pg_temp
}

// RawConn reaches pgx for what database/sql lacks, such as COPY, in the context's schema.
func ExampleRawConn() {
	db := exampleDB()
	defer db.Close()

	ctx := driver.WithSchema(context.Background(), "globex")
	conn, err := db.Conn(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	err = driver.RawConn(ctx, conn, func(pc *pgx.Conn) error {
		rows := [][]any{{"globex: buy a volcano"}, {"globex: train the cats"}}
		_, err := pc.CopyFrom(ctx, pgx.Identifier{"notes"}, []string{"title"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "globex notes")
	// Output:
	// 3 globex notes
}
