package apps

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// checkEmpty fails unless the scratch schema exists and holds nothing, since every object in it
// is taken to come from the apps.
func (m *materializer) checkEmpty(ctx context.Context) error {
	var exists bool
	if err := queryRow(ctx, m.tx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, []any{m.schema}, &exists); err != nil {
		return fmt.Errorf("apps: check the scratch schema: %w", err)
	}
	if !exists {
		return fmt.Errorf("apps: scratch schema %q does not exist", m.schema)
	}
	objs, err := listObjects(ctx, m.tx, m.schema)
	if err != nil {
		return err
	}
	if len(objs) > 0 {
		return fmt.Errorf("apps: scratch schema %q is not empty: it holds %s", m.schema, objs[sortedKeys(objs)[0]].describe())
	}
	m.objects = objs
	return nil
}

// checkTopLevel fails when the transaction is inside a savepoint. Rows written in a
// subtransaction carry the subtransaction's id in xmin, and outsideObjects, which knows only the
// top-level id, would miss them. It writes a probe row (a comment on the scratch schema), reads its
// xmin, and removes it again, since Atlas would see the comment.
func (m *materializer) checkTopLevel(ctx context.Context) error {
	comment := "COMMENT ON SCHEMA " + quoteIdent(m.schema) + " IS "
	if _, err := m.tx.ExecContext(ctx, comment+"'pgschemas probe'"); err != nil {
		return fmt.Errorf("apps: check the transaction: %w", err)
	}
	var top bool
	err := queryRow(ctx, m.tx, `SELECT xmin = pg_catalog.pg_current_xact_id()::xid FROM pg_catalog.pg_description
		WHERE classoid = 'pg_catalog.pg_namespace'::regclass AND objoid = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)`,
		[]any{m.schema}, &top)
	if err != nil {
		return fmt.Errorf("apps: check the transaction: %w", err)
	}
	if _, err := m.tx.ExecContext(ctx, comment+"NULL"); err != nil {
		return fmt.Errorf("apps: check the transaction: %w", err)
	}
	if !top {
		return errors.New("apps: Materialize ran inside a savepoint; call it in the transaction itself, so that it can find objects created outside the schema")
	}
	return nil
}

// checkKinds refuses the objects of kinds the engine cannot manage and the reserved names.
func (m *materializer) checkKinds() error {
	var errs []error
	for _, k := range sortedKeys(m.objects) {
		o := m.objects[k]
		switch {
		case !managedKinds[o.kind]:
			errs = append(errs, unmanaged(m.origins[k], "%s: Atlas' open-source PostgreSQL driver does not manage this kind; "+
				"apps declare tables, columns, indexes, constraints (primary key, unique, foreign key, check), enums, identity or serial columns, "+
				"views and functions", o.describe()))
		case engineKinds[o.kind] && (strings.Contains(o.detail, "acl=") || strings.Contains(o.detail, "comment=")):
			errs = append(errs, unmanaged(m.origins[k], "%s: the engine re-creates views and functions from their definitions, "+
				"without grants or comments; grant in a step, or leave them out", o.describe()))
		case (o.kind == "table" || o.kind == "enum" || engineKinds[o.kind]) && strings.HasPrefix(o.name, ReservedPrefix):
			errs = append(errs, unmanaged(m.origins[k], "%s: the prefix %q is reserved for the engine", o.describe(), ReservedPrefix))
		}
	}
	return errors.Join(errs...)
}
