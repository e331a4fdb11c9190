package schemaset

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/pgschemas/pgschemas/driver"
)

// This file is the engine's side of strict mode (Config.Strict): each tenant schema, static or
// dynamic, has its own NOLOGIN role, driver.TenantRole(schema), which the driver sets with every
// statement. The reference schema has none: no application runs in it.
//
// The grants of a tenant role, and nothing else:
//   - USAGE on its schema, on public and on the extra search paths;
//   - every privilege on its schema's tables, sequences and functions, those that exist and, by
//     ALTER DEFAULT PRIVILEGES for the engine's role, those that the engine creates later;
//   - SELECT on public's tables but the engine's own (pgschemas_*): a tenant reads shared data and
//     writes it only without a tenant, as the login role, whose rights on public are the
//     administrator's to grant;
//   - membership for strict_login_role, so that it may SET ROLE to it;
//   - no TEMP on the database: the engine revokes it from PUBLIC, and grants it to
//     strict_login_role and to its own role, so that no tenant creates temporary tables.
//
// CreateTenant creates the role in the tenant's transaction, DropTenant drops it in the drop's, and
// Apply grants again (GRANT is idempotent) to the tenants it ran on, static ones included, so that
// tenants created before strict was turned on, and public's new tables, are covered.
//
// Roles belong to the cluster, not to the database. A tenant of the same name in two databases of
// one cluster shares one role, which holds rights in both: creating the role tolerates one that
// exists, and dropping a tenant drops what the role holds in this database, and the role itself
// only when no other database still depends on it. Two databases creating the same tenant at the
// same moment may make one of them fail on the role; it can retry.

// strictChunk is how many tenants Apply grants to in one transaction and one round trip.
const strictChunk = 100

// strictLockKey is the advisory lock, held to the end of the transaction, that serialises the
// engine's grants and revokes: every tenant role's grant on public (the schema and its tables)
// rewrites the same catalog rows, and PostgreSQL fails concurrent GRANTs on one object with
// "tuple concurrently updated" (XX000) instead of waiting.
const strictLockKey = 0x7067737374726374 // "pgsstrct"

// lockStrictSQL takes strictLockKey.
var lockStrictSQL = fmt.Sprintf("SELECT pg_catalog.pg_advisory_xact_lock(%d);\n", int64(strictLockKey))

// strict checks the strict settings of a config.
func (v *checker) strict() {
	f := field{}.child("strict_login_role")
	login := v.c.StrictLoginRole
	switch {
	case v.c.Strict && login == "":
		v.add(field{}.child("strict"), "cty.True", ErrInvalidConfig,
			"strict = true needs strict_login_role, the application's login role, which the engine lets SET ROLE to each tenant's role")
	case !v.c.Strict && login != "":
		v.add(f, login, ErrInvalidConfig, "%q is set but strict is not true", login)
	case len(login) > driver.MaxSchemaNameLen || strings.ContainsRune(login, 0):
		v.add(f, login, ErrInvalidName, "%q: a role name has at most %d bytes and no NUL", login, driver.MaxSchemaNameLen)
	}
}

// roleSQL returns the SQL, several statements for one Exec without arguments, that takes
// strictLockKey, creates the role of each schema when it does not exist, grants it what it should
// have, and grants it to the login role.
func (e *Engine) roleSQL(schemas []string) string {
	var b strings.Builder
	b.WriteString(lockStrictSQL)
	usage := []string{"public"}
	for _, x := range e.set.Config.ExtraSearchPaths {
		usage = append(usage, quoteIdent(x))
	}
	login := quoteIdent(e.set.Config.StrictLoginRole)
	// TEMP on the database is PUBLIC's by default, and so every tenant role's: a tenant's temporary
	// table could then catch what other statements on the backend meant for a table of its name.
	// The login role (without a tenant) and the engine's role keep it.
	fmt.Fprintf(&b, `DO $$ BEGIN
	EXECUTE format('REVOKE TEMPORARY ON DATABASE %%I FROM PUBLIC', current_database());
	EXECUTE format('GRANT TEMPORARY ON DATABASE %%I TO %%I, CURRENT_USER', current_database(), %s);
END $$;
`, quoteLiteral(e.set.Config.StrictLoginRole))
	for _, s := range schemas {
		role, q := driver.TenantRole(s), quoteIdent(s)
		r := quoteIdent(role)
		fmt.Fprintf(&b, `DO $$ BEGIN CREATE ROLE %[1]s NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
GRANT USAGE ON SCHEMA %[2]s, %[3]s TO %[1]s;
GRANT ALL ON ALL TABLES IN SCHEMA %[2]s TO %[1]s;
GRANT ALL ON ALL SEQUENCES IN SCHEMA %[2]s TO %[1]s;
GRANT ALL ON ALL ROUTINES IN SCHEMA %[2]s TO %[1]s;
ALTER DEFAULT PRIVILEGES IN SCHEMA %[2]s GRANT ALL ON TABLES TO %[1]s;
ALTER DEFAULT PRIVILEGES IN SCHEMA %[2]s GRANT ALL ON SEQUENCES TO %[1]s;
ALTER DEFAULT PRIVILEGES IN SCHEMA %[2]s GRANT ALL ON ROUTINES TO %[1]s;
DO $$ DECLARE t regclass; BEGIN
	FOR t IN SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = 'public'::regnamespace
		AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname NOT LIKE 'pgschemas\_%%' LOOP
		EXECUTE format('GRANT SELECT ON %%s TO %%I', t, %[4]s);
	END LOOP;
END $$;
GRANT %[1]s TO %[5]s;
`, r, q, strings.Join(usage, ", "), quoteLiteral(role), login)
	}
	return b.String()
}

// grantTenantRole creates and grants the role of the tenant schema in tx, when the config is strict.
func (e *Engine) grantTenantRole(ctx context.Context, tx *sql.Tx, schema string) error {
	if !e.set.Config.Strict {
		return nil
	}
	if _, err := tx.ExecContext(ctx, e.roleSQL([]string{schema})); err != nil {
		return fmt.Errorf("strict: role %q for login role %q: %w", driver.TenantRole(schema), e.set.Config.StrictLoginRole, err)
	}
	return nil
}

// dropTenantRole drops what the tenant's role holds in this database, and then the role, unless
// another database still depends on it. It does nothing when the role does not exist, so that a
// tenant created before strict was turned on drops too. It runs whether or not the config is
// strict: a role left behind would keep its name, and its membership, for a later tenant.
func dropTenantRole(ctx context.Context, tx *sql.Tx, schema string) error {
	role := driver.TenantRole(schema)
	_, err := tx.ExecContext(ctx, lockStrictSQL+fmt.Sprintf(`DO $$ DECLARE r oid := (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %[1]s); BEGIN
	IF r IS NULL THEN RETURN; END IF;
	DROP OWNED BY %[2]s;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_shdepend d
		WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass AND d.refobjid = r
		AND d.dbid <> (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())) THEN
		DROP ROLE %[2]s;
	END IF;
END $$`, quoteLiteral(role), quoteIdent(role)))
	if err != nil {
		return fmt.Errorf("strict: drop role %q: %w", role, err)
	}
	return nil
}

// syncRoles grants, in strict mode, the roles of the tenants among the report's targets: those
// that were applied (their tables may have changed), and those found up to date whose role is
// missing or not granted to the login role (tenants from before strict was turned on); with
// verify, all of them. When public was applied (or verified), every tenant is granted, since
// public's new tables must reach them all. Failed and skipped targets are left out. Dynamic tenants
// are locked in the registry (FOR SHARE) so that none is dropped halfway; one dropped before is
// passed over.
func (e *Engine) syncRoles(ctx context.Context, report *Report, verify bool) error {
	if !e.set.Config.Strict {
		return nil
	}
	var static, dynamic, check []string
	kinds := map[string]Kind{}
	all := false
	for _, r := range report.Results {
		changed := verify || r.Outcome == OutcomeApplied
		switch {
		case r.Outcome == OutcomeFailed || r.Outcome == OutcomeSkipped:
		case r.Kind == KindPublic:
			all = all || changed
		case r.Kind != KindStatic && r.Kind != KindDynamic: // the reference has no role
		case !changed:
			check = append(check, r.Schema)
			kinds[r.Schema] = r.Kind
		case r.Kind == KindStatic:
			static = append(static, r.Schema)
		default:
			dynamic = append(dynamic, r.Schema)
		}
	}
	if all {
		static, check = static[:0], nil
		for _, t := range e.set.StaticTargets() {
			if t.Kind == KindStatic { // not public, nor the reference
				static = append(static, t.Schema)
			}
		}
		var err error
		if dynamic, err = e.Tenants(ctx); err != nil {
			return err
		}
	}
	missing, err := e.missingRoles(ctx, check)
	if err != nil {
		return err
	}
	for _, s := range missing {
		if kinds[s] == KindStatic {
			static = append(static, s)
		} else {
			dynamic = append(dynamic, s)
		}
	}
	if len(static) > 0 {
		if err := inTx(ctx, e.db, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, e.roleSQL(static))
			return err
		}); err != nil {
			return fmt.Errorf("schemaset: strict: grant the static tenants' roles: %w", err)
		}
	}
	for len(dynamic) > 0 {
		chunk := dynamic[:min(strictChunk, len(dynamic))]
		dynamic = dynamic[len(chunk):]
		err := inTx(ctx, e.db, func(tx *sql.Tx) error {
			live, err := lockTenants(ctx, tx, chunk)
			if err != nil || len(live) == 0 {
				return err
			}
			_, err = tx.ExecContext(ctx, e.roleSQL(live))
			return err
		})
		if err != nil {
			return fmt.Errorf("schemaset: strict: grant the roles of %d tenants from %q: %w", len(chunk), chunk[0], err)
		}
	}
	return nil
}

// missingRoles returns the schemas whose role does not exist or is not granted to the login role.
func (e *Engine) missingRoles(ctx context.Context, schemas []string) ([]string, error) {
	if len(schemas) == 0 {
		return nil, nil
	}
	roles := make([]string, len(schemas))
	for i, s := range schemas {
		roles[i] = driver.TenantRole(s)
	}
	missing, err := queryStrings(ctx, e.db, `SELECT s FROM unnest($1::text[], $2::text[]) AS x(s, role)
		WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
			JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN pg_catalog.pg_roles l ON l.oid = m.member
			WHERE r.rolname = x.role AND l.rolname = $3)`, schemas, roles, e.set.Config.StrictLoginRole)
	if err != nil {
		return nil, fmt.Errorf("schemaset: strict: find the tenants without a role: %w", err)
	}
	return missing, nil
}

// lockTenants locks the registry rows of names FOR SHARE and returns the names that have one.
func lockTenants(ctx context.Context, tx *sql.Tx, names []string) ([]string, error) {
	return queryStrings(ctx, tx, `SELECT schema_name FROM public.pgschemas_tenant WHERE schema_name = ANY($1) ORDER BY schema_name FOR SHARE`, names)
}
