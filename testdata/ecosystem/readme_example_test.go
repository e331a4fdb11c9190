package ecosystem

// The examples of README.md's sqlx, bun and gorm snippets, kept here so that they compile and run
// in this module, which has those libraries: the README's Go blocks must each stand, line for
// line, in an Example (internal/readme in the main module checks it).

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/pgschemas/pgschemas/driver"
)

// exampleConfig is the examples' throwaway database, made by TestMain: notes in public, acme and
// globex, two rows in acme's.
var exampleConfig *pgx.ConnConfig

// TestMain makes the examples' database, runs the tests, and drops it. Without a server, the
// examples (which cannot skip) are left out, and the tests skip; under CI=true it fails instead.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	cfg, drop, err := createDatabase()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "ecosystem: CI=true and %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "ecosystem: skipping the examples: %v\n", err)
		flag.Parse()
		if f := flag.Lookup("test.skip"); f != nil && f.Value.String() == "" {
			_ = f.Value.Set("^Example")
		}
		return m.Run()
	}
	code := func() int {
		defer func() {
			if err := drop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
		ctx := context.Background()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_, err = conn.Exec(ctx, notesDDL+`
			INSERT INTO acme.notes (title) VALUES ('acme: ship the rockets'), ('acme: test the rockets');
			INSERT INTO globex.notes (title) VALUES ('globex: hire a villain');`)
		conn.Close(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		exampleConfig = cfg
		return m.Run()
	}()
	return code
}

// exampleDB opens the pgschemas driver on the examples' database. In a service:
// sql.Open("pgschemas", dsn).
func exampleDB() *sql.DB {
	db, err := driver.OpenDB(driver.Config{ConnConfig: exampleConfig})
	if err != nil {
		log.Fatal(err)
	}
	return db
}

// sqlx over the pgschemas driver.
func Example_sqlx() {
	ctx := context.Background()
	db := exampleDB()
	defer db.Close()

	sqlx.BindDriver("pgschemas", sqlx.DOLLAR) // once: the driver's placeholders are $1, $2, ...
	x := sqlx.NewDb(db, "pgschemas")          // db: sql.Open("pgschemas", dsn)
	var titles []string
	err := x.SelectContext(driver.WithSchema(ctx, "acme"), &titles, "SELECT title FROM notes ORDER BY id")

	fmt.Println(titles, err)
	// Output:
	// [acme: ship the rockets acme: test the rockets] <nil>
}

// bun, with its pgdialect, over the pgschemas driver.
func Example_bun() {
	ctx := context.Background()
	db := exampleDB()
	defer db.Close()

	bdb := bun.NewDB(db, pgdialect.New()) // db: sql.Open("pgschemas", dsn)
	var titles []string
	err := bdb.NewSelect().Table("notes").Column("title").Order("id").Scan(driver.WithSchema(ctx, "acme"), &titles)

	fmt.Println(titles, err)
	// Output:
	// [acme: ship the rockets acme: test the rockets] <nil>
}

// gorm, with gorm.io/driver/postgres over the pgschemas driver's *sql.DB.
func Example_gorm() {
	ctx := context.Background()
	db := exampleDB()
	defer db.Close()

	gdb, err := gorm.Open(postgres.New(postgres.Config{Conn: db}), &gorm.Config{}) // db: sql.Open("pgschemas", dsn)
	if err != nil {
		log.Fatal(err)
	}
	var titles []string
	err = gdb.WithContext(driver.WithSchema(ctx, "acme")).Table("notes").Order("id").Pluck("title", &titles).Error

	fmt.Println(titles, err)
	// Output:
	// [acme: ship the rockets acme: test the rockets] <nil>
}
