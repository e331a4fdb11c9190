package schemaset

import (
	"context"
	"database/sql"
	"fmt"

	"ariga.io/atlas/sql/postgres"
)

// CreateReference creates the reference schema when it is missing and brings it to the dynamic
// tenants' desired state. With recreate, it first drops the reference (with its rows, which seed
// new tenants) and builds it again. It fails when the config names no reference.
func (e *Engine) CreateReference(ctx context.Context, recreate bool, opts ApplyOptions) (*Report, error) {
	ref := e.set.Config.Reference()
	if ref == "" {
		return nil, fmt.Errorf("schemaset: createrefschema: the config's dynamic block has no clone_reference")
	}
	if recreate {
		if err := e.ensureRegistry(ctx); err != nil {
			return nil, err
		}
		err := inTx(ctx, e.db, func(tx *sql.Tx) error {
			if err := lockShared(ctx, tx); err != nil {
				return err
			}
			for _, q := range []string{
				`DELETE FROM public.pgschemas_schema_state WHERE schema_name = $1`,
				`DELETE FROM public.pgschemas_step WHERE schema_name = $1`,
			} {
				if _, err := tx.ExecContext(ctx, q, ref); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(ref)+" CASCADE")
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("schemaset: createrefschema: drop %q: %w", ref, err)
		}
	}
	return e.Apply(ctx, []Target{{Schema: ref, Kind: KindReference}}, opts)
}

// Exec runs sqlText (one or more statements) in each target, each in a transaction of its own with
// the target's search path, at most parallel at a time. Every target runs; the error joins one
// *TargetError per failure.
func (e *Engine) Exec(ctx context.Context, targets []Target, sqlText string, parallel int) error {
	return e.ForEach(ctx, targets, parallel, func(ctx context.Context, t Target) error {
		return inTx(ctx, e.db, func(tx *sql.Tx) error {
			if err := setLocal(ctx, tx, "search_path", e.searchPath(t.Schema)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, sqlText)
			return err
		})
	})
}

// InspectHCL returns the live schema's tables and enums as an app's HCL, without the engine's own
// tables: Atlas' HCL, naming no schema, with foreign keys to another schema's tables written as
// table.public.NAME. With InspectSQL's file of its views and functions beside it, the app loads
// back as the same schema, so that applying the set with it as the schema's app changes nothing
// (public included). What an app cannot hold (materialized views, triggers, ...) is in neither:
// Unmanaged lists that.
func (e *Engine) InspectHCL(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := inTx(ctx, e.db, func(tx *sql.Tx) error {
		drv, err := openAtlas(tx)
		if err != nil {
			return err
		}
		s, err := e.inspect(ctx, tx, drv, name)
		if err != nil {
			return err
		}
		if out, err = postgres.MarshalHCL(s); err != nil {
			return err
		}
		out, err = appHCL(s, out)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("schemaset: inspect %q: %w", name, err)
	}
	return out, nil
}
