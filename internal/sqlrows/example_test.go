package sqlrows_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// Each hands over the rows one at a time; the rows are closed when it returns.
func ExampleEach() {
	db, err := sql.Open("pgx", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var names []string
	err = sqlrows.Each(context.Background(), db, "SELECT 'tenant_' || g FROM generate_series(1, $1::int) g ORDER BY g",
		func(rows *sql.Rows) error {
			var name string
			err := rows.Scan(&name)
			names = append(names, name)
			return err
		}, 3)
	fmt.Println(names, err)
	// Output: [tenant_1 tenant_2 tenant_3] <nil>
}
