package schemaset

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"ariga.io/atlas/sql/schema"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// appHCL turns Atlas' HCL of the schema s into an app's HCL, which the apps package loads back
// as the same tables: an app never names its schema, so the schema block and each block's
// "schema = schema.NAME" go, and a foreign key to a table of another schema (public, usually),
// or to one of the engine's tables, which Atlas writes as table.NAME as if the table were one of
// s, names its schema: table.public.plans.column.id.
func appHCL(s *schema.Schema, atlas []byte) ([]byte, error) {
	f, diags := hclwrite.ParseConfig(atlas, "inspect.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("read Atlas' HCL: %w", diags)
	}
	local := map[string]bool{}
	for _, t := range s.Tables {
		local[t.Name] = true
	}
	other := map[string]string{} // a referenced table of another schema -> its schema
	for _, t := range s.Tables {
		for _, fk := range t.ForeignKeys {
			// Another schema's table, or one of the engine's, which the inspection leaves out.
			if rt := fk.RefTable; rt != nil && rt.Schema != nil && !local[rt.Name] {
				other[rt.Name] = rt.Schema.Name
			}
		}
	}
	body := f.Body()
	for _, b := range body.Blocks() {
		if b.Type() == "schema" {
			body.RemoveBlock(b)
			continue
		}
		b.Body().RemoveAttribute("schema")
		if b.Type() != "table" {
			continue
		}
		for _, fk := range b.Body().Blocks() {
			if fk.Type() != "foreign_key" {
				continue
			}
			attr := fk.Body().GetAttribute("ref_columns")
			if attr == nil {
				continue
			}
			expr := string(attr.Expr().BuildTokens(nil).Bytes())
			fixed := tableRef.ReplaceAllStringFunc(expr, func(ref string) string {
				name := tableRef.FindStringSubmatch(ref)[1]
				if sch, ok := other[name]; ok {
					return "table." + sch + "." + name + ".column."
				}
				return ref
			})
			if fixed != expr {
				tokens, err := exprTokens(fixed)
				if err != nil {
					return nil, err
				}
				fk.Body().SetAttributeRaw("ref_columns", tokens)
			}
		}
	}
	return hclwrite.Format(f.Bytes()), nil
}

// tableRef is a reference to a column of a table, as Atlas writes it for a table of the same
// schema.
var tableRef = regexp.MustCompile(`\btable\.([A-Za-z_][A-Za-z0-9_]*)\.column\.`)

// exprTokens returns the tokens of the HCL expression src.
func exprTokens(src string) (hclwrite.Tokens, error) {
	f, diags := hclwrite.ParseConfig([]byte("x = "+src+"\n"), "expr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("rewrite %s: %w", src, diags)
	}
	return f.Body().GetAttribute("x").Expr().BuildTokens(nil), nil
}

// unmanagedQuery lists the objects of schema $1 that an app cannot hold, because the engine
// cannot manage them (see the apps package): materialized views, procedures, aggregates, window
// functions, triggers and domains, leaving out extensions' members and the engine's own (named
// pgschemas_...). Views and functions are the engine's (InspectSQL).
const unmanagedQuery = `
WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)
SELECT d FROM (
	SELECT CASE c.relkind WHEN 'm' THEN 'materialized view ' WHEN 'f' THEN 'foreign table '
		ELSE 'composite type ' END || c.relname AS d, c.oid, 'pg_catalog.pg_class'::regclass AS cls
	FROM pg_catalog.pg_class c WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('m', 'f', 'c')
	UNION ALL
	SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'window function ' END ||
		p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')', p.oid, 'pg_catalog.pg_proc'::regclass
	FROM pg_catalog.pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns) AND p.prokind <> 'f'
	UNION ALL
	SELECT 'trigger ' || g.tgname || ' on ' || c.relname, g.oid, 'pg_catalog.pg_trigger'::regclass
	FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
	WHERE c.relnamespace = (SELECT oid FROM ns) AND NOT g.tgisinternal
	UNION ALL
	SELECT 'domain ' || t.typname, t.oid, 'pg_catalog.pg_type'::regclass
	FROM pg_catalog.pg_type t WHERE t.typnamespace = (SELECT oid FROM ns) AND t.typtype = 'd'
) o
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.deptype = 'e' AND e.classid = o.cls AND e.objid = o.oid)
	AND d NOT LIKE '% pgschemas\_%'
ORDER BY 1`

// Unmanaged lists the objects of the schema name that neither InspectHCL nor InspectSQL writes
// because an app cannot hold them (the engine diffs tables and enums with Atlas' open-source
// driver, and manages views and functions itself): "materialized view totals", "trigger t on
// notes", "domain email". An apply neither creates nor drops them.
func (e *Engine) Unmanaged(ctx context.Context, name string) ([]string, error) {
	out, err := queryStrings(ctx, e.db, unmanagedQuery, name)
	if err != nil {
		return nil, fmt.Errorf("schemaset: list the unmanaged objects of %q: %w", name, err)
	}
	return out, nil
}

// InspectSQL returns the views and functions of the live schema as an app's SQL file: one CREATE
// VIEW or CREATE FUNCTION per object, naming no schema, each after what it depends on (else in the
// order they were created), so that an app made of InspectHCL's file and this one loads back as
// the same schema. It is empty when the schema has no view or function.
func (e *Engine) InspectSQL(ctx context.Context, name string) ([]byte, error) {
	var all routines
	err := inTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := setLocal(ctx, tx, "search_path", e.searchPath(name)); err != nil {
			return err
		}
		var err error
		all, err = readRoutines(ctx, tx, name, "")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("schemaset: inspect the views and functions of %q: %w", name, err)
	}
	var b strings.Builder
	for _, k := range ordered(all, keySet(all)) {
		r := all[k]
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		if r.kind == "function" {
			b.WriteString("CREATE FUNCTION " + quoteIdent(r.name) + r.def + ";\n")
		} else {
			b.WriteString("CREATE VIEW " + quoteIdent(r.name) + r.def + ";\n")
		}
	}
	return []byte(b.String()), nil
}

// keySet returns the keys of m as a set.
func keySet[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
