package apps

import (
	"context"
	"database/sql"
	"fmt"

	"ariga.io/atlas/sql/schema"
)

// outsideQuery lists the objects that the current transaction created or altered outside schema
// $1, as descriptions like "table public.x". A catalog row written by a transaction carries its id
// in xmin. A row's xmin alone cannot tell a new object from an old one that was touched (a foreign
// key to public.plans rewrites plans' pg_class row), so new objects are found by their new
// pg_depend rows: on a namespace for a top-level object, or an automatic dependency on an outside
// relation for an index, default, trigger, rule, policy or constraint attached to it. Columns added
// to or altered in outside tables are found by their pg_attribute rows. New schemas have no
// pg_depend row and are listed from pg_namespace.
const outsideQuery = `
WITH cur AS (SELECT pg_catalog.pg_current_xact_id()::xid AS x),
ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1),
-- A TOAST table belongs to its owner's schema, wherever it lives.
outside AS (SELECT oid FROM pg_catalog.pg_class WHERE relnamespace <> (SELECT oid FROM ns) AND relkind <> 't'),
made AS (
	SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, cur
	WHERE d.xmin = cur.x AND d.objsubid = 0
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.classid AND e.objid = d.objid AND e.deptype = 'e')
		AND ((d.deptype = 'n' AND d.refclassid = 'pg_catalog.pg_namespace'::regclass AND d.refobjid <> (SELECT oid FROM ns))
			OR (d.deptype = 'a' AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid IN (SELECT oid FROM outside)))
)
SELECT DISTINCT i.type || ' ' || i.identity FROM made, pg_catalog.pg_identify_object(made.classid, made.objid, 0) i
UNION
SELECT 'column ' || i.identity FROM pg_catalog.pg_attribute a, cur, pg_catalog.pg_identify_object('pg_catalog.pg_class'::regclass, a.attrelid, a.attnum) i
WHERE a.xmin = cur.x AND a.attnum > 0 AND a.attrelid IN (SELECT oid FROM outside)
	AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.xmin = cur.x AND d.objsubid = 0
		AND d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = a.attrelid)
UNION
-- A session's temporary schemas appear with its first temporary table, which is listed itself.
SELECT 'schema ' || quote_ident(n.nspname) FROM pg_catalog.pg_namespace n, cur
WHERE n.xmin = cur.x AND n.nspname <> $1 AND n.nspname !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1`

// outsideObjects returns what the current transaction created outside schema name so far, as a set.
func outsideObjects(ctx context.Context, db schema.ExecQuerier, name string) (map[string]bool, error) {
	found := make(map[string]bool)
	err := eachRow(ctx, db, outsideQuery, []any{name}, func(rows *sql.Rows) error {
		var d string
		err := rows.Scan(&d)
		found[d] = true
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("apps: look for objects outside schema %q: %w", name, err)
	}
	return found, nil
}
