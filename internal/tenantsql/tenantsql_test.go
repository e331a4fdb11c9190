package tenantsql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/internal/tenantsql"
)

// TestTenants runs the three scripts on a new database and checks what strict mode and the
// benchmarks rely on: the rows, autovacuum off, each tenant role's rights on its own schema's
// table and none on another's, no TEMP for a tenant role but TEMP for the login role, and the
// login role's membership. Roles runs twice: the second time reuses the roles.
func TestTenants(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	login := fmt.Sprintf("pgs_tenantsql_%08x", rand.Uint32())
	schemas := []string{tenantsql.Schema(0), tenantsql.Schema(1)}
	t.Cleanup(func() {
		if err := tenantsql.DropRoles(ctx, dsn, login, driver.TenantRole(schemas[0]), driver.TenantRole(schemas[1])); err != nil {
			t.Error(err)
		}
	})
	for _, script := range []string{tenantsql.Items(2, 3), tenantsql.LoginRole(login), tenantsql.Roles(login, schemas...), tenantsql.Roles(login, schemas...)} {
		if _, err := c.Exec(ctx, script); err != nil {
			t.Fatalf("%v\n%s", err, script)
		}
	}
	r0 := driver.TenantRole(schemas[0])
	for _, check := range []struct {
		query string
		args  []any
		want  bool
	}{
		{"SELECT count(*) = 3 FROM t0.items", nil, true},
		{"SELECT count(*) = 3 FROM t1.items", nil, true},
		{"SELECT 'autovacuum_enabled=off' = ANY(reloptions) FROM pg_class WHERE oid = 't1.items'::regclass", nil, true},
		{"SELECT has_table_privilege($1, 't0.items', 'INSERT')", []any{r0}, true},
		{"SELECT has_sequence_privilege($1, 't0.items_id_seq', 'USAGE')", []any{r0}, true},
		{"SELECT has_table_privilege($1, 't1.items', 'SELECT')", []any{r0}, false},
		{"SELECT has_schema_privilege($1, 't1', 'USAGE')", []any{r0}, false},
		{"SELECT has_database_privilege($1, current_database(), 'TEMP')", []any{r0}, false},
		{"SELECT has_database_privilege($1, current_database(), 'TEMP')", []any{login}, true},
		{"SELECT pg_has_role($1, $2, 'MEMBER')", []any{login, r0}, true},
		{"SELECT rolinherit FROM pg_roles WHERE rolname = $1", []any{login}, false},
	} {
		var got bool
		if err := c.QueryRow(ctx, check.query, check.args...).Scan(&got); err != nil {
			t.Fatalf("%s %v: %v", check.query, check.args, err)
		}
		if got != check.want {
			t.Errorf("%s %v = %v, want %v", check.query, check.args, got, check.want)
		}
	}
}
