package apps

import (
	"context"
	"database/sql"
	"fmt"

	"ariga.io/atlas/sql/schema"

	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// outsideQueryFull lists the objects that the current transaction created or altered outside schema
// $1, as descriptions like "table public.x". A catalog row written by a transaction carries its id
// in xmin. A row's xmin alone cannot tell a new object from an old one that was touched (a foreign
// key to public.plans rewrites plans' pg_class row), so new objects are found by their new
// pg_depend rows: on a namespace for a top-level object, or an automatic dependency on an outside
// relation for an index, default, trigger, rule, policy or constraint attached to it. Columns added
// to or altered in outside tables are found by their pg_attribute rows. New schemas have no
// pg_depend row and are listed from pg_namespace.
//
// It reads every row of pg_depend, pg_class and pg_attribute, which takes seconds in a database of
// thousands of tenants; outsideQuery finds the same through indexes, and this query is used only
// where outsideQuery cannot be trusted (see outsideObjects).
const outsideQueryFull = `
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

// outsideQuery is outsideQueryFull (the same rows) read through indexes, from two facts:
//   - an object created after schema $1 has a greater oid than the schema, until the oid counter
//     wraps around: its pg_depend rows are found per catalog (classid, a few index probes) by
//     objid > the schema's oid, through pg_depend's depender index;
//   - every change to a relation's columns (and every CREATE or ALTER of a relation, or of what
//     hangs on it: index, default, trigger, rule, constraint) locks the relation until the end of
//     the transaction: the outside relations whose columns or dependencies may have changed are
//     among those this session holds a lock on, and their pg_attribute and pg_depend rows (both
//     ways) are read by their oid;
//   - an existing function or procedure that CREATE OR REPLACE rewrote has a new pg_proc row,
//     found by a scan of pg_proc (small: it does not grow with tenants that have no routines).
//
// An existing object of another kind (a type, a collation) moved by ALTER ... SET SCHEMA from one
// outside schema to another is not seen.
const outsideQuery = `
WITH RECURSIVE cur AS (SELECT pg_catalog.pg_current_xact_id()::xid AS x),
ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1),
classes(classid) AS (
	SELECT min(classid) FROM pg_catalog.pg_depend
	UNION ALL
	SELECT (SELECT min(d.classid) FROM pg_catalog.pg_depend d WHERE d.classid > classes.classid)
	FROM classes WHERE classes.classid IS NOT NULL
),
-- The relations this session holds a lock on, outside the schema. A TOAST table belongs to its
-- owner's schema, wherever it lives.
outside AS (
	SELECT c.oid FROM (SELECT DISTINCT l.relation FROM pg_catalog.pg_locks l
		WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation'
			AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())) l,
	LATERAL (SELECT c.oid FROM pg_catalog.pg_class c
		WHERE c.oid = l.relation AND c.relnamespace <> (SELECT oid FROM ns) AND c.relkind <> 't' OFFSET 0) c
),
cand AS (
	SELECT d.* FROM classes, LATERAL (SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.deptype, d.xmin
		FROM pg_catalog.pg_depend d WHERE d.classid = classes.classid AND d.objid > (SELECT oid FROM ns) OFFSET 0) d
	UNION
	SELECT d.* FROM outside, LATERAL (SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.deptype, d.xmin
		FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = outside.oid OFFSET 0) d
	UNION
	SELECT d.* FROM outside, LATERAL (SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.deptype, d.xmin
		FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = outside.oid OFFSET 0) d
	UNION
	SELECT d.* FROM pg_catalog.pg_proc p, cur, LATERAL (SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.deptype, d.xmin
		FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid OFFSET 0) d
	WHERE p.xmin = cur.x
),
made AS (
	SELECT d.classid, d.objid FROM cand d, cur
	WHERE d.xmin = cur.x AND d.objsubid = 0
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.classid AND e.objid = d.objid AND e.deptype = 'e')
		AND ((d.deptype = 'n' AND d.refclassid = 'pg_catalog.pg_namespace'::regclass AND d.refobjid <> (SELECT oid FROM ns))
			OR (d.deptype = 'a' AND d.refclassid = 'pg_catalog.pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
				WHERE c.oid = d.refobjid AND c.relnamespace <> (SELECT oid FROM ns) AND c.relkind <> 't')))
)
SELECT DISTINCT i.type || ' ' || i.identity FROM made, pg_catalog.pg_identify_object(made.classid, made.objid, 0) i
UNION
SELECT 'column ' || i.identity FROM outside, cur,
	LATERAL (SELECT a.attrelid, a.attnum FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = outside.oid AND a.attnum > 0 AND a.xmin = cur.x OFFSET 0) a,
	pg_catalog.pg_identify_object('pg_catalog.pg_class'::regclass, a.attrelid, a.attnum) i
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.xmin = cur.x AND d.objsubid = 0
		AND d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = a.attrelid)
UNION
-- A session's temporary schemas appear with its first temporary table, which is listed itself.
SELECT 'schema ' || quote_ident(n.nspname) FROM pg_catalog.pg_namespace n, cur
WHERE n.xmin = cur.x AND n.nspname <> $1 AND n.nspname !~ '^pg_(toast_)?temp_[0-9]+$'
ORDER BY 1`

// oidsWrappedQuery reports whether schema $1 holds an object with a smaller oid than its own: the
// oid counter wrapped around since the schema was made, and outsideQuery may miss objects.
const oidsWrappedQuery = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n, pg_catalog.pg_depend d
	WHERE n.nspname = $1 AND d.refclassid = 'pg_catalog.pg_namespace'::regclass AND d.refobjid = n.oid AND d.objid < n.oid)`

// outsideObjects returns what the current transaction created outside schema name so far, as a set.
// It reads the catalog through indexes (outsideQuery), unless the oid counter wrapped around since
// the schema was made, when it reads it all (outsideQueryFull).
func outsideObjects(ctx context.Context, db schema.ExecQuerier, name string) (map[string]bool, error) {
	query := outsideQuery
	var wrapped bool
	if err := queryRow(ctx, db, oidsWrappedQuery, []any{name}, &wrapped); err != nil {
		return nil, fmt.Errorf("apps: look for objects outside schema %q: %w", name, err)
	}
	if wrapped {
		query = outsideQueryFull
	}
	found := make(map[string]bool)
	err := sqlrows.Each(ctx, db, query, func(rows *sql.Rows) error {
		var d string
		err := rows.Scan(&d)
		found[d] = true
		return err
	}, name)
	if err != nil {
		return nil, fmt.Errorf("apps: look for objects outside schema %q: %w", name, err)
	}
	return found, nil
}
