// Command servercost counts the instructions that a PostgreSQL backend executes per operation of
// the driver's benchmark cases: the server's share of a case's cost, free of the machine's noise.
// bench/servercost.sh runs it against a throwaway server started under valgrind's callgrind, which
// writes each backend's count when the backend exits; this program prints, for each case, the pid
// of the backend that ran it, and servercost.sh reads the counts from callgrind's log.
//
// servercost -seed fills the database first: the benchmark's 100 schemas and, for the strict
// cases, a login role (servercost_app) and each schema's tenant role, with the engine's grants.
//
// Each case runs on a database/sql pool of one connection, warms up as bench_test.go does (every
// tenant's statement past PostgreSQL's five custom plans), then runs -n SELECTs by primary key over
// the tenant sequence of its benchmark case, and closes the pool. servercost.sh runs it twice,
// with -n 0 and with -n N, and divides the difference by N: connecting and warming up cancel out.
//
//	go run ./bench/servercost -dsn postgres://...:5499/bench -n 1000 -case pooler_100_tenants
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/url"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/tenantsql"
)

const (
	tenants = 100 // schemas t0..t99, each with items(id, name, v) of rows rows
	rows    = 100
	warm    = 8 // runs of each tenant's statement before the counted ones: past the 5 custom plans
)

// benchCase is one column of the driver's benchmarks: a driver, DSN parameters, and whether the
// operations go to one tenant or to 100 at random.
type benchCase struct {
	driver    string
	params    map[string]string
	qualified bool // plain pgx naming each statement's schema (the _100_tables baselines)
	hundred   bool
}

var cases = map[string]benchCase{
	"stdlib":                 {driver: "pgx", params: map[string]string{"search_path": "t0"}},
	"stdlib_exec":            {driver: "pgx", params: map[string]string{"search_path": "t0", "default_query_exec_mode": "exec"}},
	"stdlib_100_tables":      {driver: "pgx", qualified: true, hundred: true},
	"stdlib_exec_100_tables": {driver: "pgx", params: map[string]string{"default_query_exec_mode": "exec"}, qualified: true, hundred: true},
	"one_tenant":             {driver: driver.DriverName},
	"100_tenants":            {driver: driver.DriverName, hundred: true},
	"pooler_one_tenant":      {driver: driver.DriverName, params: map[string]string{driver.ParamPooler: string(driver.PoolTransaction)}},
	"pooler_100_tenants":     {driver: driver.DriverName, params: map[string]string{driver.ParamPooler: string(driver.PoolTransaction)}, hundred: true},
	"strict_one_tenant":      {driver: driver.DriverName, params: strict},
	"strict_100_tenants":     {driver: driver.DriverName, params: strict, hundred: true},
}

// loginRole is the strict cases' login role, a member of every tenant role.
const loginRole = "servercost_app"

var strict = map[string]string{driver.ParamStrict: "on", "user": loginRole}

// seed creates the schemas t0..t99, each with items(id, name, v) of rows rows, the login role and
// the tenant roles, with the grants that schemaset's roles.go gives them: the driver's benchmarks
// and strict tests make the same (internal/tenantsql).
func seed(ctx context.Context, db *sql.DB) error {
	schemas := make([]string, tenants)
	for t := range schemas {
		schemas[t] = tenantsql.Schema(t)
	}
	_, err := db.ExecContext(ctx, tenantsql.Items(tenants, rows)+tenantsql.LoginRole(loginRole)+tenantsql.Roles(loginRole, schemas...))
	return err
}

func main() {
	dsn := flag.String("dsn", "", "the benchmark database, seeded by servercost.sh")
	n := flag.Int("n", 1000, "operations to count after the warm-up")
	name := flag.String("case", "", "the case to run")
	seedOnly := flag.Bool("seed", false, "create the schemas and roles, and run no case")
	flag.Parse()
	if *seedOnly {
		db, err := sql.Open("pgx", *dsn)
		if err == nil {
			err = seed(context.Background(), db)
		}
		if err != nil {
			log.Fatalf("servercost: seed: %v", err)
		}
		return
	}
	c, ok := cases[*name]
	if !ok || *dsn == "" {
		log.Fatalf("servercost: -dsn and -case (one of %v) are required", keys(cases))
	}
	u, err := url.Parse(*dsn)
	if err != nil {
		log.Fatal(err)
	}
	q := u.Query()
	for k, v := range c.params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	db, err := sql.Open(c.driver, u.String())
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)

	ctx := func(t int) (context.Context, string) {
		query := "SELECT id, name, v FROM items WHERE id = $1"
		if c.qualified {
			return context.Background(), fmt.Sprintf("SELECT id, name, v FROM t%d.items WHERE id = $1", t)
		}
		if c.driver == driver.DriverName {
			return driver.WithSchema(context.Background(), tenantsql.Schema(t)), query
		}
		return context.Background(), query
	}
	op := func(t, i int) {
		cx, query := ctx(t)
		var (
			id   int64
			name string
			v    int32
		)
		if err := db.QueryRowContext(cx, query, int64(i%rows+1)).Scan(&id, &name, &v); err != nil {
			log.Fatal(err)
		}
	}
	spread := 1
	if c.hundred {
		spread = tenants
	}
	for i := range warm * spread {
		op(i%spread, i)
	}
	var pid int
	cx, _ := ctx(0)
	if err := db.QueryRowContext(cx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2)) // the benchmark's sequence
	for i := range *n {
		op(rng.IntN(spread), i)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(pid)
}

func keys(m map[string]benchCase) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
