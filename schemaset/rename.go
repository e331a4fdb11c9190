package schemaset

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/routing"
	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// TenantPayloadPrefix starts the payload of a notification on DomainChannel that is about a
// tenant rather than a domain; the rest of the payload is the tenant's schema name. RenameTenant
// sends one for the old name and one for the new, so that routers forget what they cached by
// name (resolve.Resolver.Lookup) even for a tenant without domains. A host never holds ':', so no
// domain payload starts so.
const TenantPayloadPrefix = routing.TenantPayloadPrefix

// RenameTenant renames the dynamic tenant old to new, in one transaction: its schema, its row,
// its domains, its records (fingerprint and steps) and, when it has one, its strict-mode role
// (a role for new is created and granted, the old one's privileges here dropped, and the old role
// too unless another database uses it, as DropTenant does). new must pass the tenant rules
// (CheckTenantName), unique ignoring case. Static tenants, the reference and public are refused
// with ErrNotTenant. It waits for a running apply, and locks the tenant's row, so a concurrent
// drop, rename or domain change of the tenant waits for it. The routers of every process see the
// change within a second: the domain rows change, and a notification names both tenants.
//
// Public tables that reference pgschemas_tenant (schema_name) follow when their foreign key says
// ON UPDATE CASCADE; one without it refuses the rename (SQLSTATE 23503) and nothing changes.
// Objects inside the schema keep working (PostgreSQL refers to them by OID), except SQL text that
// names the old schema explicitly, such as a function body: as after ALTER SCHEMA ... RENAME.
// Options.OnEvent receives EventRenamed or EventFailed.
func (e *Engine) RenameTenant(ctx context.Context, old, new string) (err error) {
	start := time.Now()
	defer func() {
		e.event(start, Event{Kind: EventRenamed, Op: OpRenameTenant, Schema: new, OldSchema: old, SchemaKind: KindDynamic}, err)
	}()
	if t, ok := e.set.KindOf(old); ok {
		return fmt.Errorf("schemaset: rename %q: %w: it is the set's %s %q", old, ErrNotTenant, t.Kind, t.Schema)
	}
	if err := driver.CheckSchemaName(old); err != nil {
		return fmt.Errorf("schemaset: rename tenant: %w", err)
	}
	if err := e.set.CheckTenantName(new); err != nil {
		return fmt.Errorf("schemaset: rename tenant %q: %w", old, err)
	}
	if old == new {
		return fmt.Errorf("schemaset: rename tenant %q: %w: the new name is the same", old, ErrTenantExists)
	}
	if err := e.ensureRegistry(ctx); err != nil {
		return err
	}
	err = inTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := lockShared(ctx, tx); err != nil {
			return err
		}
		if err := e.lockTenantRow(ctx, tx, old, true); err != nil {
			return err
		}
		if err := claimName(ctx, tx, new); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER SCHEMA "+quoteIdent(old)+" RENAME TO "+quoteIdent(new)); err != nil {
			if isSQLState(err, "42P06") { // duplicate_schema
				return fmt.Errorf("%w: schema %q exists; it was left untouched", ErrTenantExists, new)
			}
			return err
		}
		if err := renameRows(ctx, tx, old, new); err != nil {
			return err
		}
		if err := e.grantTenantRole(ctx, tx, new); err != nil {
			return err
		}
		return dropTenantRole(ctx, tx, old)
	})
	if err != nil {
		return fmt.Errorf("schemaset: rename tenant %q to %q: %w", old, new, err)
	}
	return nil
}

// renameRows moves the registry rows of old to new: the domain rows leave while the tenant row
// changes its key (their foreign key has no ON UPDATE CASCADE) and come back under new, which
// notifies the routers of each host; then the records, and a notification per name.
func renameRows(ctx context.Context, tx *sql.Tx, old, new string) error {
	var domains []Domain
	err := sqlrows.Each(ctx, tx, `DELETE FROM public.pgschemas_domain WHERE tenant = $1
		RETURNING domain, folder, is_primary, redirect_to_primary`, func(rows *sql.Rows) error {
		var d Domain
		if err := rows.Scan(&d.Domain, &d.Folder, &d.Primary, &d.RedirectToPrimary); err != nil {
			return err
		}
		domains = append(domains, d)
		return nil
	}, old)
	if err != nil {
		return fmt.Errorf("move the domains aside: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE public.pgschemas_tenant SET schema_name = $2 WHERE schema_name = $1`, old, new); err != nil {
		if isSQLState(err, "23503") { // foreign_key_violation: a public table references the row
			return fmt.Errorf("a public table references tenant %q without ON UPDATE CASCADE: %w", old, err)
		}
		return fmt.Errorf("rename the tenant row: %w", err)
	}
	for _, d := range domains {
		if err := insertDomain(ctx, tx, new, d); err != nil {
			return fmt.Errorf("domain %s: %w", d, err)
		}
	}
	for _, q := range []string{
		`UPDATE public.pgschemas_schema_state SET schema_name = $2 WHERE schema_name = $1`,
		`UPDATE public.pgschemas_step SET schema_name = $2 WHERE schema_name = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, old, new); err != nil {
			return fmt.Errorf("rename the records: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2), pg_notify($1, $3)`,
		DomainChannel, TenantPayloadPrefix+old, TenantPayloadPrefix+new); err != nil {
		return fmt.Errorf("notify the routers: %w", err)
	}
	return nil
}
