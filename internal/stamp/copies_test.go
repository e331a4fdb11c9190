package stamp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

// tenantSet is the Set of a schema named as is.
func tenantSet(schema string) *stamp.Set {
	return stamp.NewSet(`"`+schema+`", public, pg_temp`, `"`+schema+`"`, "", stamp.Options{})
}

// copyTenants makes schemas whose table u(id, v) holds rows (1, '<schema>1') and (2,
// '<schema>2'): in "a" and "b" id is an integer; in "real" it is a real, so that an argument
// that pgx encodes as a binary int4 for a's statement means another number to a statement whose
// parameter the server inferred as a real; in "shape" v is an integer, a result of another shape.
func copyTenants(t *testing.T, c *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []struct{ name, id, v string }{{"a", "int", "text"}, {"b", "int", "text"}, {"real", "real", "text"}} {
		if _, err := c.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %[1]s; CREATE TABLE %[1]s.u (id %[2]s, v %[3]s);
			INSERT INTO %[1]s.u VALUES (1, '%[1]s1'), (2, '%[1]s2')`, s.name, s.id, s.v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Exec(ctx, `CREATE SCHEMA shape; CREATE TABLE shape.u (id int, v int); INSERT INTO shape.u VALUES (1, 11), (2, 12)`); err != nil {
		t.Fatal(err)
	}
}

func copyCount(t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgschemas\_c%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCopiesRunEachTenantsStatementInItsTables: a statement of pgx's cache that tenants share
// runs, from a tenant's second use on, as that tenant's own copy, and always in the tenant's
// tables, with arguments that mean what the caller passed, whatever the column types; a tenant
// whose rows differ in shape gets the server's error, never rows decoded as another shape.
func TestCopiesRunEachTenantsStatementInItsTables(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	c, sc := connect(t, dsn, pgx.QueryExecModeCacheStatement, stamp.Options{})
	copyTenants(t, c)
	sets := map[string]*stamp.Set{"a": tenantSet("a"), "b": tenantSet("b"), "real": tenantSet("real"), "shape": tenantSet("shape")}
	get := func(tenant string, id int) (string, error) {
		sc.SetTenant(sets[tenant])
		var v string
		err := c.QueryRow(ctx, "SELECT v FROM u WHERE id = $1", id).Scan(&v)
		return v, err
	}
	for round := 0; round < 4; round++ {
		for _, tenant := range []string{"a", "b", "real"} {
			for id := 1; id <= 2; id++ {
				v, err := get(tenant, id)
				if want := fmt.Sprint(tenant, id); err != nil || v != want {
					t.Fatalf("round %d: %s id %d: %q, %v; want %q", round, tenant, id, v, err, want)
				}
			}
		}
	}
	if n := copyCount(t, c); n != 2 {
		t.Errorf("%d copies on the server, want 2 (b's and real's)", n)
	}

	// A result of another shape: the server's error, then the statement is prepared again.
	var sawShapeError bool
	for round := 0; round < 3; round++ {
		for _, tenant := range []string{"shape", "a", "b"} {
			sc.SetTenant(sets[tenant])
			var v any
			err := c.QueryRow(ctx, "SELECT v FROM u WHERE id = $1", 1).Scan(&v)
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && pgErr.Code == "0A000":
				sawShapeError = true
			case err != nil:
				t.Fatalf("%s: %v", tenant, err)
			case tenant == "shape" && v != int32(11), tenant != "shape" && v != tenant+"1":
				t.Fatalf("round %d: %s read %#v", round, tenant, v)
			}
		}
	}
	if !sawShapeError {
		t.Error("no 0A000 for a result of another shape")
	}

	// The server drops every statement: each tenant still reads its own rows.
	if _, err := c.Exec(ctx, "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		for _, tenant := range []string{"b", "a", "real"} {
			if v, err := get(tenant, 2); err != nil || v != tenant+"2" {
				t.Fatalf("after DEALLOCATE ALL, round %d: %s read %q, %v", round, tenant, v, err)
			}
		}
	}
}

// TestCopiesAreBounded: a connection holds at most MaxCopies copies, and the tenants whose
// copies were closed still read their own rows.
func TestCopiesAreBounded(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	c, sc := connect(t, dsn, pgx.QueryExecModeCacheStatement, stamp.Options{MaxCopies: 2})
	var tenants []string
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("t%d", i)
		tenants = append(tenants, name)
		if _, err := c.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.u (v text); INSERT INTO %[1]s.u VALUES ('%[1]s')`, name)); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 3; round++ {
		for _, tenant := range tenants {
			sc.SetTenant(tenantSet(tenant))
			var v string
			if err := c.QueryRow(ctx, "SELECT v FROM u WHERE v <> $1", "x").Scan(&v); err != nil || v != tenant {
				t.Fatalf("round %d: %s read %q, %v", round, tenant, v, err)
			}
		}
	}
	if n := copyCount(t, c); n > 2 {
		t.Errorf("%d copies on the server, want at most 2", n)
	}
}

// TestStatementPreparedAgainAfterASkippedStamp: after a DEALLOCATE ALL, the stamp of a statement
// of pgx's cache prepares it again; when an error earlier in the same flush makes the server skip
// that stamp, the next use prepares it again, rather than fail with "prepared statement does not
// exist".
func TestStatementPreparedAgainAfterASkippedStamp(t *testing.T) {
	dsn := setup(t)
	ctx := context.Background()
	c, sc := connect(t, dsn, pgx.QueryExecModeCacheStatement, stamp.Options{})
	sc.SetTenant(setA)
	if got := read(t, c); got != "a" { // prepares and caches the read
		t.Fatalf("read %q", got)
	}
	if _, err := c.Exec(ctx, "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue("SELECT 1/$1::int", 0)
	b.Queue("SELECT v FROM t ORDER BY v LIMIT 1")
	if err := c.SendBatch(ctx, b).Close(); err == nil {
		t.Fatal("the batch did not fail")
	}
	if got := read(t, c); got != "a" {
		t.Errorf("read %q after the skipped stamp, want a", got)
	}
}
