package schemaset

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"

	"github.com/pgschemas/pgschemas/driver"
)

// Clone copies the non-public schema src to the new schema dst: tables, indexes, constraints,
// enums, sequences and rows. With asTenant, dst also gets a tenant row (and the name must pass the
// tenant rules). dst must not exist; on failure nothing is left.
func (e *Engine) Clone(ctx context.Context, src, dst string, asTenant bool) error {
	if err := driver.CheckSchemaName(src); err != nil {
		return fmt.Errorf("schemaset: clone: source: %w", err)
	}
	check := driver.CheckSchemaName
	if asTenant {
		check = e.set.CheckTenantName
	}
	if err := check(dst); err != nil {
		return fmt.Errorf("schemaset: clone: destination: %w", err)
	}
	if t, ok := e.set.KindOf(dst); ok {
		return fmt.Errorf("schemaset: clone: destination %q is the set's %s %q", dst, t.Kind, t.Schema)
	}
	if err := EnsureRegistry(ctx, e.db); err != nil {
		return err
	}
	err := inTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := lockShared(ctx, tx); err != nil {
			return err
		}
		if asTenant {
			if err := insertTenant(ctx, tx, dst, nil); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(dst)); err != nil {
			if isSQLState(err, "42P06") {
				return fmt.Errorf("%w: schema %q exists; it was left untouched", ErrTenantExists, dst)
			}
			return err
		}
		if err := e.cloneInTx(ctx, tx, src, dst); err != nil {
			return err
		}
		if asTenant {
			// dst is where src was: it inherits src's record and steps, so an apply inspects it
			// only if src was behind.
			for _, q := range []string{
				`INSERT INTO public.pgschemas_schema_state (schema_name, kind, fingerprint, apps)
					SELECT $2, 'dynamic', fingerprint, apps FROM public.pgschemas_schema_state WHERE schema_name = $1`,
				`INSERT INTO public.pgschemas_step (schema_name, app, step)
					SELECT $2, app, step FROM public.pgschemas_step WHERE schema_name = $1`,
			} {
				if _, err := tx.ExecContext(ctx, q, src, dst); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("schemaset: clone %q to %q: %w", src, dst, err)
	}
	return nil
}

// cloneInTx copies src's structure into the existing empty schema dst with an Atlas plan, then
// its rows, then moves dst's sequences past src's.
func (e *Engine) cloneInTx(ctx context.Context, tx *sql.Tx, src, dst string) error {
	drv, err := postgres.Open(tx)
	if err != nil {
		return err
	}
	s, err := e.inspect(ctx, tx, drv, src)
	if err != nil {
		return err
	}
	if err := setLocal(ctx, tx, "search_path", e.searchPath(dst)); err != nil {
		return err
	}
	s.Name = dst
	changes, err := drv.SchemaDiff(schema.New(dst), s)
	if err != nil {
		return err
	}
	plan, err := planOrEmpty(ctx, drv, changes)
	if err != nil {
		return err
	}
	if err := e.execPlan(ctx, tx, plan); err != nil {
		return err
	}
	// Rows, parents before children, so that each foreign key holds when its statement ends.
	for _, t := range dependencyOrder(s.Tables) {
		if _, err := tx.ExecContext(ctx, copyRows(t, src, dst)); err != nil {
			return fmt.Errorf("copy rows of %s: %w", t.Name, err)
		}
	}
	// Sequences: continue after the source's current values.
	_, err = tx.ExecContext(ctx, `SELECT pg_catalog.setval(format('%I.%I', $2::text, d.sequencename), d.last_value, true)
		FROM pg_catalog.pg_sequences d WHERE d.schemaname = $1 AND d.last_value IS NOT NULL`, src, dst)
	if err != nil {
		return fmt.Errorf("copy sequence values: %w", err)
	}
	return nil
}

// copyRows returns the statement that copies a table's rows from src to dst. Generated columns are
// left to compute; values of the source schema's enum types are cast through text to dst's copies.
func copyRows(t *schema.Table, src, dst string) string {
	var cols, vals []string
	for _, c := range t.Columns {
		if slices.ContainsFunc(c.Attrs, func(a schema.Attr) bool { _, ok := a.(*schema.GeneratedExpr); return ok }) {
			continue
		}
		cols = append(cols, quoteIdent(c.Name))
		v := quoteIdent(c.Name)
		if e, ok := c.Type.Type.(*schema.EnumType); ok && e.Schema != nil && e.Schema.Name == dst {
			v += "::text::" + quoteIdent(dst) + "." + quoteIdent(e.T)
		}
		vals = append(vals, v)
	}
	list := strings.Join(cols, ", ")
	return fmt.Sprintf("INSERT INTO %s.%s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s.%s",
		quoteIdent(dst), quoteIdent(t.Name), list, strings.Join(vals, ", "), quoteIdent(src), quoteIdent(t.Name))
}

// dependencyOrder sorts tables so that each comes after the tables its foreign keys reference
// within the schema. Tables in a reference cycle keep their relative order.
func dependencyOrder(tables []*schema.Table) []*schema.Table {
	var out []*schema.Table
	state := map[*schema.Table]int{} // 1 visiting, 2 done
	var visit func(t *schema.Table)
	visit = func(t *schema.Table) {
		if state[t] != 0 {
			return
		}
		state[t] = 1
		for _, fk := range t.ForeignKeys {
			if fk.RefTable != nil && fk.RefTable != t && fk.RefTable.Schema == t.Schema {
				visit(fk.RefTable)
			}
		}
		state[t] = 2
		out = append(out, t)
	}
	for _, t := range tables {
		visit(t)
	}
	return out
}

func planOrEmpty(ctx context.Context, drv migrate.Driver, changes schema.Changes) (*migrate.Plan, error) {
	if len(changes) == 0 {
		return &migrate.Plan{}, nil
	}
	return drv.PlanChanges(ctx, "", changes)
}
