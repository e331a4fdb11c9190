package apps

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"ariga.io/atlas/sql/schema"

	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// object is one thing that a schema holds, as the catalog describes it.
type object struct {
	kind   string // "table", "column", "index", "view", ...
	key    string // unique within the schema and free of its name: "column users.email"
	name   string // the object's own name, for the reserved-prefix rule
	table  string // the relation the object belongs to (itself for a relation), or ""
	detail string // its definition, rendered relative to the schema, for the round trip
}

// managedKinds are the kinds that Atlas' open-source PostgreSQL driver inspects and re-creates,
// so the engine can manage them. Every other kind that objectsQuery finds is refused.
var managedKinds = map[string]bool{
	"table": true, "column": true, "index": true, "constraint": true, "sequence": true, "enum": true,
	"view": true, "function": true,
}

// engineKinds are the managed kinds that Atlas' open-source driver neither inspects nor
// re-creates: the engine manages them itself, from their definitions in the catalog
// (package schemaset), so the round trip through Atlas leaves them out.
var engineKinds = map[string]bool{"view": true, "function": true}

// objectsQuery lists everything in schema $1 that an app can create, one row per object, with
// the kind, key, own name, owning table and definition. Definitions are rendered by the server
// relative to the search_path, which the caller sets to the schema first, so that two schemas
// with the same objects give the same rows. Members of extensions are left out: the extension
// itself is listed. Of a column's options only n_distinct and n_distinct_inherited, which ALTER
// COLUMN SET sets, are compared: a server may keep private entries there (one seen in testing
// writes a pg_attver entry that differs per column and per copy).
//
// Every catalog is read through an index from the schema's oid or an object's, never scanned
// whole: a database of thousands of tenants has hundreds of thousands of rows in each. So extension
// membership is probed per object (pg_depend's depender index), and an array type is recognised
// from its element (typelem) rather than by searching every type's typarray.
const objectsQuery = `
WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1),
rel AS (
	SELECT c.*, EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.deptype = 'e' AND ext.classid = 'pg_catalog.pg_class'::regclass AND ext.objid = c.oid) AS member
	FROM pg_catalog.pg_class c WHERE c.relnamespace = (SELECT oid FROM ns)
),
owned AS (
	SELECT d.objid, t.relname AS tbl, a.attname
	FROM pg_catalog.pg_depend d
	JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
	JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
		AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
)
SELECT
	CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
		WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type'
		WHEN 'S' THEN CASE WHEN o.objid IS NULL THEN 'standalone sequence' ELSE 'sequence' END
		ELSE 'relation' END,
	'relation ' || c.relname, c.relname, coalesce(o.tbl, c.relname),
	concat_ws(' ', 'persistence=' || c.relpersistence::text, 'options=' || c.reloptions::text,
		'replica_identity=' || c.relreplident::text, 'acl=' || c.relacl::text, 'owner=' || pg_catalog.pg_get_userbyid(c.relowner),
		'comment=' || pg_catalog.obj_description(c.oid, 'pg_class'),
		(SELECT concat_ws(' ', 'type=' || pg_catalog.format_type(s.seqtypid, NULL), 'start=' || s.seqstart, 'increment=' || s.seqincrement,
			'min=' || s.seqmin, 'max=' || s.seqmax, 'cache=' || s.seqcache, 'cycle=' || s.seqcycle)
			FROM pg_catalog.pg_sequence s WHERE s.seqrelid = c.oid),
		'owned_by=' || o.tbl || '.' || o.attname)
FROM rel c LEFT JOIN owned o ON o.objid = c.oid
WHERE c.relkind NOT IN ('i', 'I') AND NOT c.member
UNION ALL
SELECT 'row level security', 'rls ' || c.relname, c.relname, c.relname, 'forced=' || c.relforcerowsecurity::text
FROM rel c WHERE c.relrowsecurity OR c.relforcerowsecurity
UNION ALL
SELECT 'column', 'column ' || c.relname || '.' || a.attname, a.attname, c.relname,
	concat_ws(' ', pg_catalog.format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'not null' END,
		'default=' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), 'identity=' || nullif(a.attidentity::text, ''),
		'generated=' || nullif(a.attgenerated::text, ''), 'statistics=' || nullif(a.attstattarget, -1), 'collation=' || CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END,
		'storage=' || CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END, 'compression=' || nullif(a.attcompression::text, ''),
		'options=' || (SELECT string_agg(opt, ',' ORDER BY opt) FROM unnest(a.attoptions) opt WHERE opt LIKE 'n\_distinct%'), 'acl=' || a.attacl::text, 'comment=' || pg_catalog.col_description(c.oid, a.attnum))
FROM rel c
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
WHERE c.relkind = 'r' AND NOT c.member
UNION ALL
SELECT 'index', 'index ' || ic.relname, ic.relname, c.relname,
	concat_ws(' ', replace(pg_catalog.pg_get_indexdef(i.indexrelid),
			' ON ' || quote_ident($1) || '.' || quote_ident(c.relname) || ' ', ' ON ' || quote_ident(c.relname) || ' '),
		CASE WHEN i.indisclustered THEN 'clustered' END, CASE WHEN i.indisreplident THEN 'replica identity' END,
		'comment=' || pg_catalog.obj_description(ic.oid, 'pg_class'))
FROM rel c
JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
WHERE NOT c.member
UNION ALL
SELECT CASE k.contype WHEN 'x' THEN 'exclusion constraint' WHEN 't' THEN 'constraint trigger' ELSE 'constraint' END,
	'constraint ' || c.relname || '.' || k.conname, k.conname, c.relname,
	concat_ws(' ', pg_catalog.pg_get_constraintdef(k.oid), 'comment=' || pg_catalog.obj_description(k.oid, 'pg_constraint'))
FROM rel c JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid
WHERE NOT c.member
UNION ALL
SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' WHEN 'p' THEN 'shell type'
		WHEN 'b' THEN 'base type' ELSE 'type' END,
	'type ' || t.typname, t.typname, '',
	concat_ws(' ', (SELECT string_agg(pg_catalog.quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
			FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
		'acl=' || t.typacl::text, 'owner=' || pg_catalog.pg_get_userbyid(t.typowner),
		'comment=' || pg_catalog.obj_description(t.oid, 'pg_type'))
FROM pg_catalog.pg_type t
WHERE t.typnamespace = (SELECT oid FROM ns)
	AND t.typrelid = 0 AND t.typtype <> 'm'
	AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid)
	AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.deptype = 'e' AND ext.classid = 'pg_catalog.pg_type'::regclass AND ext.objid = t.oid)
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' ELSE 'function' END,
	'routine ' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')', p.proname, '',
	concat_ws(' ', 'acl=' || p.proacl::text, 'comment=' || pg_catalog.obj_description(p.oid, 'pg_proc'))
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = (SELECT oid FROM ns)
	AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
UNION ALL
SELECT 'trigger', 'trigger ' || tg.tgname || ' on ' || c.relname, tg.tgname, c.relname, pg_catalog.pg_get_triggerdef(tg.oid)
FROM rel c JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = c.oid
WHERE NOT tg.tgisinternal
UNION ALL
SELECT 'rule', 'rule ' || r.rulename || ' on ' || c.relname, r.rulename, c.relname, ''
FROM rel c JOIN pg_catalog.pg_rewrite r ON r.ev_class = c.oid
WHERE r.rulename <> '_RETURN'
UNION ALL
SELECT 'policy', 'policy ' || p.polname || ' on ' || c.relname, p.polname, c.relname, ''
FROM rel c JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid
UNION ALL
SELECT 'inheritance', 'inheritance ' || c.relname, c.relname, c.relname, 'inherits ' || h.inhparent::regclass::text
FROM rel c JOIN pg_catalog.pg_inherits h ON h.inhrelid = c.oid
UNION ALL
SELECT 'extension', 'extension ' || x.extname, x.extname, '', ''
FROM pg_catalog.pg_extension x WHERE x.extnamespace = (SELECT oid FROM ns)
UNION ALL
SELECT (pg_catalog.pg_identify_object(d.classid, d.objid, 0)).type,
	'object ' || d.classid::regclass::text || ' ' || (pg_catalog.pg_identify_object(d.classid, d.objid, 0)).name,
	(pg_catalog.pg_identify_object(d.classid, d.objid, 0)).name, '', ''
FROM pg_catalog.pg_depend d
WHERE d.refclassid = 'pg_catalog.pg_namespace'::regclass AND d.refobjid = (SELECT oid FROM ns) AND d.deptype = 'n'
	AND d.classid NOT IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_type'::regclass, 'pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_extension'::regclass)
	AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.deptype = 'e' AND ext.classid = d.classid AND ext.objid = d.objid)
`

// listObjects returns the objects of schema name by key. The search_path must start with name.
func listObjects(ctx context.Context, db schema.ExecQuerier, name string) (map[string]object, error) {
	objs := make(map[string]object)
	err := sqlrows.Each(ctx, db, objectsQuery, func(rows *sql.Rows) error {
		var o object
		err := rows.Scan(&o.kind, &o.key, &o.name, &o.table, &o.detail)
		objs[o.key] = o
		return err
	}, name)
	if err != nil {
		return nil, fmt.Errorf("apps: list the objects of schema %q: %w", name, err)
	}
	return objs, nil
}

// sortedKeys returns the keys of m in order, so that errors come out in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// describe names an object for a message, by its kind and the key without the key's class:
// "index users_email_key", "column users.email", "trigger audit on users".
func (o object) describe() string {
	_, what := splitKey(o.key)
	if _, name := splitKey(what); strings.HasPrefix(o.key, "object ") {
		what = name // "object pg_statistic_ext st": the class is in the kind
	}
	return o.kind + " " + what
}
