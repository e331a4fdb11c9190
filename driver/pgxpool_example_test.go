package driver_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// examplePool returns a pgxpool configured by ConfigurePool, over the database of exampleDB, whose
// schemas acme and globex each hold notes(id, title) and one note.
func examplePool() *pgxpool.Pool {
	exampleDB().Close()
	cfg, err := pgxpool.ParseConfig(pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	if err := driver.ConfigurePool(cfg, driver.PoolOptions{}); err != nil {
		log.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	return pool
}

// A pgxpool configured by ConfigurePool runs each operation in the schema its context names.
func ExampleConfigurePool() {
	cfg, err := pgxpool.ParseConfig(pgtest.ExampleDSN()) // in a service: its DSN
	if err != nil {
		log.Fatal(err)
	}
	if err := driver.ConfigurePool(cfg, driver.PoolOptions{}); err != nil {
		log.Fatal(err)
	}
	exampleDB().Close() // the schemas acme and globex, each with notes
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	for _, tenant := range []string{"acme", "globex"} {
		ctx := driver.WithSchema(context.Background(), tenant)
		var title string
		if err := pool.QueryRow(ctx, "SELECT title FROM notes WHERE id = $1", 1).Scan(&title); err != nil {
			log.Fatal(err)
		}
		fmt.Println(title)
	}
	// A missing schema is an error, never a silent fall-through to public's tables.
	_, err = pool.Exec(driver.WithSchema(context.Background(), "initech"), "DELETE FROM notes")
	fmt.Println(errors.Is(err, driver.ErrSchemaNotFound))
	// Output:
	// acme: ship the rockets
	// globex: hire a villain
	// true
}

// A transaction, and a connection from Acquire, run in the schema of the context that began or
// acquired them.
func ExampleConfigurePool_transaction() {
	pool := examplePool()
	defer pool.Close()

	ctx := driver.WithSchema(context.Background(), "globex")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO notes(title) VALUES ('globex: buy a volcano')")
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Release()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM notes").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "globex notes")
	// Output:
	// 2 globex notes
}
