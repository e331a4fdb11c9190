package tenantsql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/driver"
)

// Schema returns the name of the benchmark's n-th schema: t0, t1, ...
func Schema(n int) string { return fmt.Sprintf("t%d", n) }

// Items returns one script that creates the schemas t0 up to t(tenants-1), each with a table
// items(id bigserial PRIMARY KEY, name text, v int) of rows rows, with autovacuum off (a vacuum
// that one benchmark case starts would run during the next), and ends with ANALYZE.
func Items(tenants, rows int) string {
	var b strings.Builder
	for i := range tenants {
		fmt.Fprintf(&b, `CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.items(id bigserial PRIMARY KEY, name text, v int) WITH (autovacuum_enabled = off);
INSERT INTO %[1]s.items(name, v) SELECT 'item-' || g, g FROM generate_series(1, %[2]d) g;
`, Schema(i), rows)
	}
	b.WriteString("ANALYZE;")
	return b.String()
}

// LoginRole returns the SQL that creates login as strict mode wants its login role: not a
// superuser, NOINHERIT, owning nothing, with rights on public's tables and sequences.
func LoginRole(login string) string {
	return fmt.Sprintf(`CREATE ROLE %[1]s LOGIN NOINHERIT;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %[1]s;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %[1]s;
`, pgx.Identifier{login}.Sanitize())
}

// Roles returns the SQL that gives each schema its tenant role (driver.TenantRole), as the engine
// does in strict mode: USAGE on the schema and on public, every privilege on its tables and
// sequences, SELECT on public's tables, and membership for login. The database's TEMP privilege
// goes from PUBLIC to login alone, so that no tenant role can create temporary objects. A role
// that exists already, made for another database of the same cluster, is reused.
func Roles(login string, schemas ...string) string {
	var b strings.Builder
	l := pgx.Identifier{login}.Sanitize()
	fmt.Fprintf(&b, `DO $$ BEGIN
	EXECUTE format('REVOKE TEMPORARY ON DATABASE %%I FROM PUBLIC', current_database());
	EXECUTE format('GRANT TEMPORARY ON DATABASE %%I TO %%I', current_database(), '%s');
END $$;
`, strings.ReplaceAll(login, "'", "''"))
	for _, s := range schemas {
		r, sq := pgx.Identifier{driver.TenantRole(s)}.Sanitize(), pgx.Identifier{s}.Sanitize()
		fmt.Fprintf(&b, `DO $$ BEGIN CREATE ROLE %[1]s NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
GRANT USAGE ON SCHEMA %[2]s, public TO %[1]s;
GRANT ALL ON ALL TABLES IN SCHEMA %[2]s TO %[1]s;
GRANT ALL ON ALL SEQUENCES IN SCHEMA %[2]s TO %[1]s;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO %[1]s;
GRANT %[1]s TO %[3]s;
`, r, sq, l)
	}
	return b.String()
}

// DropRoles drops roles, after dropping what they own and were granted in the database at dsn. A
// role that another database still depends on (the same tenant name there, at the same time) is
// left to that database's owner. It returns the errors joined.
func DropRoles(ctx context.Context, dsn string, roles ...string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var errs []error
	for _, r := range roles {
		q := pgx.Identifier{r}.Sanitize()
		if _, err := c.Exec(ctx, "DROP OWNED BY "+q); err != nil {
			errs = append(errs, fmt.Errorf("drop owned by %s: %w", r, err))
			continue
		}
		var pgErr *pgconn.PgError
		if _, err := c.Exec(ctx, "DROP ROLE "+q); err != nil && !(errors.As(err, &pgErr) && pgErr.Code == pgDependentObjects) {
			errs = append(errs, fmt.Errorf("drop role %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// pgDependentObjects is the SQLSTATE of DROP ROLE for a role that objects still depend on.
const pgDependentObjects = "2BP01"
