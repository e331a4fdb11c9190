package tenantsql_test

import (
	"fmt"

	"github.com/pgschemas/pgschemas/internal/tenantsql"
)

func ExampleItems() {
	fmt.Println(tenantsql.Items(2, 100))
	// Output:
	// CREATE SCHEMA t0;
	// CREATE TABLE t0.items(id bigserial PRIMARY KEY, name text, v int) WITH (autovacuum_enabled = off);
	// INSERT INTO t0.items(name, v) SELECT 'item-' || g, g FROM generate_series(1, 100) g;
	// CREATE SCHEMA t1;
	// CREATE TABLE t1.items(id bigserial PRIMARY KEY, name text, v int) WITH (autovacuum_enabled = off);
	// INSERT INTO t1.items(name, v) SELECT 'item-' || g, g FROM generate_series(1, 100) g;
	// ANALYZE;
}
