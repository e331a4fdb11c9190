package schemaset

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// The oids of the system catalogs that pg_depend names; they are the same in every PostgreSQL.
const (
	catType       = 1247
	catProc       = 1255
	catClass      = 1259
	catAttrdef    = 2604
	catConstraint = 2606
	catNamespace  = 2615
	catRewrite    = 2618
	catTrigger    = 2620
	catPolicy     = 3256
	catCollation  = 3456
)

// cloneObjectsCTE lists the objects of the schema named $1: (classid, objid) for every catalog row
// that belongs to it. It walks pg_depend from the namespace through its reference index, keeping
// the dependents that are in the schema (a table's indexes, constraints, defaults, triggers, rules
// and policies, a type's array type, ...), so that its cost follows the size of the schema, not of
// the database: the catalogs have no index on the namespace, and scanning pg_class of a database of
// many tenants would cost more than the clone. Default privileges (pg_default_acl, 826) are left
// out: they name roles, which a clone does not copy, and strict mode grants dst's own (roles.go).
const cloneObjectsCTE = `WITH RECURSIVE ns AS (
	SELECT oid, xmin FROM pg_catalog.pg_namespace WHERE nspname = $1
), objs(classid, objid) AS (
	SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ns
	WHERE d.refclassid = 2615 AND d.refobjid = ns.oid AND d.classid <> 826
	UNION
	SELECT d.classid, d.objid FROM objs o, LATERAL (
		SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
		WHERE d.refclassid = o.classid AND d.refobjid = o.objid OFFSET 0) d
	WHERE CASE d.classid
		WHEN 1259 THEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = d.objid)
		WHEN 1247 THEN (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE t.oid = d.objid)
		WHEN 1255 THEN (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = d.objid)
		WHEN 2606 THEN (SELECT k.connamespace FROM pg_catalog.pg_constraint k WHERE k.oid = d.objid)
		WHEN 3456 THEN (SELECT k.collnamespace FROM pg_catalog.pg_collation k WHERE k.oid = d.objid)
		WHEN 2604 THEN (SELECT c.relnamespace FROM pg_catalog.pg_attrdef a
			JOIN pg_catalog.pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid)
		WHEN 2618 THEN (SELECT c.relnamespace FROM pg_catalog.pg_rewrite r
			JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
		WHEN 2620 THEN (SELECT c.relnamespace FROM pg_catalog.pg_trigger t
			JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid)
		WHEN 3256 THEN (SELECT c.relnamespace FROM pg_catalog.pg_policy p
			JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE p.oid = d.objid)
		END = (SELECT oid FROM ns)
)`

// cloneFingerprintSQL hashes what a clone script depends on in the schema $1, reading only rows
// that an index leads to from the namespace (as cloneObjectsCTE does, and for the same reason): the
// set of objects that depend on the namespace, and the row versions (xmin) of the relations, their
// columns, defaults, indexes, constraints, triggers, rules and policies, of the types with their
// enum labels and domain constraints, of the functions, collations, sequences' options and
// owners, of every comment on them, and of the tables that foreign keys point at (with their
// schema), so that renaming public.plans changes it. Each ALTER, RENAME, COMMENT or CREATE OR
// REPLACE writes a new row version, and each CREATE or DROP changes the set of rows.
//
// Renaming another outside object that the script names (a type of public used by a column, a
// function a default calls) is not seen here; the script then fails with an undefined name, and
// cloneInTx generates it again. VACUUM FREEZE can change the hash without a change of structure,
// which only costs a new generation.
const cloneFingerprintSQL = `WITH ns AS (
	SELECT oid, xmin FROM pg_catalog.pg_namespace WHERE nspname = $1
), top AS (
	SELECT d.classid, d.objid FROM ns, pg_catalog.pg_depend d WHERE d.refclassid = 2615 AND d.refobjid = ns.oid
), rel AS (
	SELECT c.oid, c.xmin, c.relkind FROM top, LATERAL (SELECT c.oid, c.xmin, c.relkind FROM pg_catalog.pg_class c
		WHERE top.classid = 1259 AND c.oid = top.objid OFFSET 0) c
), typ AS (
	SELECT t.oid, t.xmin FROM top, LATERAL (SELECT t.oid, t.xmin FROM pg_catalog.pg_type t
		WHERE top.classid = 1247 AND t.oid = top.objid OFFSET 0) t
), idx AS (
	SELECT i.indexrelid AS oid, i.xmin FROM rel, LATERAL (SELECT i.indexrelid, i.xmin FROM pg_catalog.pg_index i
		WHERE i.indrelid = rel.oid OFFSET 0) i
), con AS (
	SELECT k.oid, k.xmin, k.confrelid FROM rel, LATERAL (SELECT k.oid, k.xmin, k.confrelid FROM pg_catalog.pg_constraint k
		WHERE k.conrelid = rel.oid OFFSET 0) k
	UNION ALL
	SELECT k.oid, k.xmin, 0 FROM typ, LATERAL (SELECT k.oid, k.xmin FROM pg_catalog.pg_constraint k
		WHERE k.contypid = typ.oid OFFSET 0) k
), sub(oid, x) AS (
	SELECT t.oid, t.xmin FROM rel, LATERAL (SELECT t.oid, t.xmin FROM pg_catalog.pg_trigger t WHERE t.tgrelid = rel.oid OFFSET 0) t
	UNION ALL
	SELECT r.oid, r.xmin FROM rel, LATERAL (SELECT r.oid, r.xmin FROM pg_catalog.pg_rewrite r WHERE r.ev_class = rel.oid OFFSET 0) r
	UNION ALL
	SELECT p.oid, p.xmin FROM rel, LATERAL (SELECT p.oid, p.xmin FROM pg_catalog.pg_policy p WHERE p.polrelid = rel.oid OFFSET 0) p
	UNION ALL
	SELECT d.oid, d.xmin FROM rel, LATERAL (SELECT d.oid, d.xmin FROM pg_catalog.pg_attrdef d WHERE d.adrelid = rel.oid OFFSET 0) d
	UNION ALL
	SELECT p.oid, p.xmin FROM top, LATERAL (SELECT p.oid, p.xmin FROM pg_catalog.pg_proc p
		WHERE top.classid = 1255 AND p.oid = top.objid OFFSET 0) p
	UNION ALL
	SELECT k.oid, k.xmin FROM top, LATERAL (SELECT k.oid, k.xmin FROM pg_catalog.pg_collation k
		WHERE top.classid = 3456 AND k.oid = top.objid OFFSET 0) k
	UNION ALL
	SELECT c.oid, c.xmin FROM idx, LATERAL (SELECT c.oid, c.xmin FROM pg_catalog.pg_class c WHERE c.oid = idx.oid OFFSET 0) c
	UNION ALL
	SELECT idx.oid, idx.xmin FROM idx
	UNION ALL
	SELECT con.oid, con.xmin FROM con
	UNION ALL
	SELECT typ.oid, typ.xmin FROM typ
	UNION ALL
	SELECT rel.oid, rel.xmin FROM rel
), parts(p) AS (
	SELECT 'n' || ns.xmin::text FROM ns
	UNION ALL SELECT 'o' || top.classid::text || ':' || top.objid::text FROM top
	UNION ALL SELECT 'r' || sub.oid::text || ':' || sub.x::text FROM sub
	UNION ALL SELECT 'a' || a.attrelid::text || ':' || a.attnum::text || ':' || a.xmin::text
		FROM rel, LATERAL (SELECT a.attrelid, a.attnum, a.xmin FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = rel.oid AND a.attnum > 0 OFFSET 0) a
	UNION ALL SELECT 's' || s.seqrelid::text || ':' || s.xmin::text
		FROM rel, LATERAL (SELECT s.seqrelid, s.xmin FROM pg_catalog.pg_sequence s WHERE rel.relkind = 'S' AND s.seqrelid = rel.oid OFFSET 0) s
	UNION ALL SELECT 'd' || d.objid::text || ':' || d.refobjid::text || ':' || d.refobjsubid::text || d.deptype::text
		FROM rel, LATERAL (SELECT d.objid, d.refobjid, d.refobjsubid, d.deptype FROM pg_catalog.pg_depend d
			WHERE rel.relkind = 'S' AND d.classid = 1259 AND d.objid = rel.oid AND d.refclassid = 1259 OFFSET 0) d
	UNION ALL SELECT 'e' || e.oid::text || ':' || e.xmin::text
		FROM typ, LATERAL (SELECT e.oid, e.xmin FROM pg_catalog.pg_enum e WHERE e.enumtypid = typ.oid OFFSET 0) e
	UNION ALL SELECT 'f' || c.oid::text || ':' || c.xmin::text || ':' || n.xmin::text
		FROM con, LATERAL (SELECT c.oid, c.xmin, c.relnamespace FROM pg_catalog.pg_class c WHERE con.confrelid <> 0 AND c.oid = con.confrelid OFFSET 0) c,
		LATERAL (SELECT n.xmin FROM pg_catalog.pg_namespace n WHERE n.oid = c.relnamespace OFFSET 0) n
	UNION ALL SELECT 'c' || c.objoid::text || ':' || c.classoid::text || ':' || c.objsubid::text || ':' || c.xmin::text
		FROM sub, LATERAL (SELECT c.objoid, c.classoid, c.objsubid, c.xmin FROM pg_catalog.pg_description c WHERE c.objoid = sub.oid OFFSET 0) c
)
SELECT (SELECT oid FROM ns)::bigint, coalesce(pg_catalog.md5(pg_catalog.string_agg(p, ';' ORDER BY p)), '')
FROM parts HAVING EXISTS (SELECT FROM ns)`

// cloneFingerprint returns the cache key of the schema src as it is now in tx's snapshot.
func cloneFingerprint(ctx context.Context, tx *sql.Tx, src string) (cloneKey, error) {
	k := cloneKey{src: src}
	var oid int64
	err := tx.QueryRowContext(ctx, cloneFingerprintSQL, src).Scan(&oid, &k.fingerprint)
	if err == sql.ErrNoRows {
		return k, fmt.Errorf("source schema %q does not exist", src)
	}
	if err != nil {
		return k, fmt.Errorf("read the catalog of %q: %w", src, err)
	}
	k.oid = uint32(oid)
	return k, nil
}

// oidList is a set of oids, passed to a query as the text of an oid[].
type oidList []uint32

func (l oidList) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, o := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(o), 10))
	}
	b.WriteByte('}')
	return b.String()
}

// descr is the comment on an object, ” for none.
func descr(objid string, classid int, subid string) string {
	return fmt.Sprintf(`coalesce((SELECT dsc.description FROM pg_catalog.pg_description dsc
		WHERE dsc.objoid = %s AND dsc.classoid = %d AND dsc.objsubid = %s), '')`, objid, classid, subid)
}

// collationName renders a collation's name as format_type renders a type's: unqualified when the
// search path finds it (the source's own collations, rendered with the source first), else
// qualified. ” when the expression is 0.
func collationName(oid string) string {
	return fmt.Sprintf(`coalesce((SELECT CASE WHEN pg_catalog.pg_collation_is_visible(k.oid) THEN ''
			ELSE pg_catalog.quote_ident(n.nspname) || '.' END || pg_catalog.quote_ident(k.collname)
		FROM pg_catalog.pg_collation k JOIN pg_catalog.pg_namespace n ON n.oid = k.collnamespace WHERE k.oid = %s), '')`, oid)
}

// The queries that read a schema's catalog for generateClone. Each takes the oids of the objects
// of one catalog as $1 (text of an oid[]); some take the namespace oid as $2. Definitions come from
// PostgreSQL's own pg_get_*def functions, run with the source first on the search path.
var (
	cloneRelsSQL = `SELECT c.oid, c.relname, c.relkind::text, c.relpersistence::text, c.relispartition,
	coalesce(pg_catalog.array_to_string(c.reloptions, ', '), ''),
	coalesce((SELECT pg_catalog.string_agg('toast.' || o, ', ') FROM pg_catalog.pg_class t, pg_catalog.unnest(t.reloptions) o
		WHERE t.oid = c.reltoastrelid), ''),
	CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END,
	CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid, true) ELSE '' END,
	coalesce((SELECT i.inhparent FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid), 0),
	c.reloftype <> 0,
	coalesce((SELECT a.amname FROM pg_catalog.pg_am a WHERE a.oid = c.relam AND a.amname <> 'heap' AND c.relkind IN ('r', 'm')), ''),
	c.relrowsecurity, c.relforcerowsecurity, c.relreplident::text, c.relispopulated,
	CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid, true) ELSE '' END,
	` + descr("c.oid", catClass, "0") + `
FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::pg_catalog.oid[]) AND c.relkind NOT IN ('i', 'I')
ORDER BY c.oid`

	cloneColumnsSQL = `SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
	a.attidentity::text, a.attgenerated::text,
	coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid, true), ''), coalesce(d.oid, 0),
	CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN ` + collationName("a.attcollation") + ` ELSE '' END,
	coalesce(a.attstattarget, -1)::int,
	CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text ELSE '' END,
	coalesce(pg_catalog.to_jsonb(a) ->> 'attcompression', ''),
	` + descr("a.attrelid", catClass, "a.attnum") + `,
	t.typnamespace = $2 OR coalesce((SELECT e.typnamespace = $2 FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid), false),
	coalesce(pa.attnotnull, false), coalesce(pg_catalog.pg_get_expr(pd.adbin, pd.adrelid, true), '')
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_catalog.pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_catalog.pg_attribute pa ON pa.attrelid = i.inhparent AND pa.attname = a.attname
LEFT JOIN pg_catalog.pg_attrdef pd ON pd.adrelid = pa.attrelid AND pd.adnum = pa.attnum
WHERE a.attrelid = ANY ($1::pg_catalog.oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`

	cloneSequencesSQL = `SELECT s.seqrelid, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart::text, s.seqincrement::text,
	s.seqmax::text, s.seqmin::text, s.seqcache::text, s.seqcycle,
	coalesce(d.refobjid, 0), coalesce(d.deptype::text, ''),
	coalesce((SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = d.refobjid AND a.attnum = d.refobjsubid), '')
FROM pg_catalog.pg_sequence s
LEFT JOIN pg_catalog.pg_depend d ON d.classid = 1259 AND d.objid = s.seqrelid AND d.refclassid = 1259 AND d.deptype IN ('a', 'i')
WHERE s.seqrelid = ANY ($1::pg_catalog.oid[])`

	cloneTypesSQL = `SELECT t.oid, t.typname, t.typtype::text, t.typrelid,
	coalesce((SELECT e.oid FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid), 0),
	CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) ELSE '' END,
	t.typnotnull, coalesce(pg_catalog.pg_get_expr(t.typdefaultbin, 0, true), ''),
	CASE WHEN t.typtype = 'd' AND t.typcollation <> 0
		AND t.typcollation <> (SELECT b.typcollation FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype)
		THEN ` + collationName("t.typcollation") + ` ELSE '' END,
	coalesce((SELECT pg_catalog.array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e
		WHERE e.enumtypid = t.oid), '{}'),
	` + descr("t.oid", catType, "0") + `
FROM pg_catalog.pg_type t WHERE t.oid = ANY ($1::pg_catalog.oid[])
ORDER BY t.oid`

	cloneConstraintsSQL = `SELECT k.oid, k.conname, k.contype::text, k.conrelid, k.contypid, k.conindid, k.conparentid,
	k.coninhcount, k.convalidated, pg_catalog.pg_get_constraintdef(k.oid, true),
	k.confrelid <> 0 AND coalesce((SELECT r.relnamespace <> $2 FROM pg_catalog.pg_class r WHERE r.oid = k.confrelid), false),
	` + descr("k.oid", catConstraint, "0") + `
FROM pg_catalog.pg_constraint k WHERE k.oid = ANY ($1::pg_catalog.oid[])
ORDER BY k.oid`

	cloneIndexesSQL = `SELECT i.indexrelid, c.relname, i.indrelid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
	i.indisclustered, i.indisreplident,
	coalesce((SELECT h.inhparent FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid), 0),
	` + descr("i.indexrelid", catClass, "0") + `
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
WHERE i.indexrelid = ANY ($1::pg_catalog.oid[])
ORDER BY i.indexrelid`

	cloneFunctionsSQL = `SELECT p.oid, p.proname, p.prokind::text, pg_catalog.pg_get_function_identity_arguments(p.oid),
	CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) ELSE '' END,
	'CREATE OR REPLACE ' || CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END || ' '
		|| pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) || '(',
	coalesce(p.proconfig, '{}'),
	` + descr("p.oid", catProc, "0") + `
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.oid = ANY ($1::pg_catalog.oid[])
ORDER BY p.oid`

	cloneTriggersSQL = `SELECT t.oid, t.tgname, t.tgrelid, t.tgisinternal OR t.tgparentid <> 0,
	CASE WHEN t.tgisinternal THEN '' ELSE pg_catalog.pg_get_triggerdef(t.oid, true) END, t.tgenabled::text,
	` + descr("t.oid", catTrigger, "0") + `
FROM pg_catalog.pg_trigger t WHERE t.oid = ANY ($1::pg_catalog.oid[])
ORDER BY t.oid`

	cloneRulesSQL = `SELECT r.oid, r.rulename, r.ev_class,
	CASE WHEN r.rulename = '_RETURN' THEN '' ELSE pg_catalog.pg_get_ruledef(r.oid, true) END, r.ev_enabled::text,
	` + descr("r.oid", catRewrite, "0") + `
FROM pg_catalog.pg_rewrite r WHERE r.oid = ANY ($1::pg_catalog.oid[])
ORDER BY r.oid`

	clonePoliciesSQL = `SELECT p.oid, p.polname, p.polrelid, p.polcmd::text, p.polpermissive,
	CASE WHEN p.polroles = '{0}' THEN 'PUBLIC' ELSE (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname)
		FROM pg_catalog.pg_roles r WHERE r.oid = ANY (p.polroles)) END,
	coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid, true), ''),
	coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid, true), ''),
	` + descr("p.oid", catPolicy, "0") + `
FROM pg_catalog.pg_policy p WHERE p.oid = ANY ($1::pg_catalog.oid[])
ORDER BY p.oid`

	cloneCollationsSQL = `SELECT k.oid, k.collname, ` + descr("k.oid", catCollation, "0") + `
FROM pg_catalog.pg_collation k WHERE k.oid = ANY ($1::pg_catalog.oid[])
ORDER BY k.oid`

	// cloneDependsSQL returns the dependencies between objects: $1 and $2 are the classids and
	// objids of the objects, in pairs.
	cloneDependsSQL = `SELECT d.classid, d.objid, d.refclassid, d.refobjid, d.deptype::text,
	CASE WHEN d.deptype = 'e' THEN pg_catalog.pg_describe_object(d.classid, d.objid, 0) || ' belongs to '
		|| pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) ELSE '' END
FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.oid[]), pg_catalog.unnest($2::pg_catalog.oid[])) AS o(classid, objid),
	LATERAL (SELECT * FROM pg_catalog.pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid OFFSET 0) d
ORDER BY d.classid, d.objid, d.refclassid, d.refobjid`
)

// cloneListSQL lists the objects of the schema $1, with a description of those of catalogs a
// clone does not read.
var cloneListSQL = cloneObjectsCTE + `
SELECT o.classid, o.objid, CASE WHEN o.classid IN (1247, 1255, 1259, 2604, 2606, 2618, 2620, 3256, 3456) THEN ''
	ELSE pg_catalog.pg_describe_object(o.classid, o.objid, 0) END
FROM objs o ORDER BY o.classid, o.objid`
