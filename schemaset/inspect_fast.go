package schemaset

import (
	"context"
	"database/sql"
	"regexp"
	"strconv"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
)

// Atlas' open-source inspection of one schema reads parts of the catalog of the whole database:
// its column query looks up each identity column's last value by scanning pg_sequences (every
// sequence of the database, each read with pg_sequence_last_value), and its index query unnests
// every row of pg_index and aggregates every row of pg_constraint before it keeps the schema's. With
// 10,000 tenants of 10 tables (100,000 sequences and 200,000 indexes), one inspection took seconds,
// and an apply makes several (the desired states, public, the reference, a representative).
//
// scopedCatalog passes Atlas' queries through to the database, with those three parts replaced by
// equivalents that an index leads to from the schema's tables: the same rows, the same columns,
// in the same order (TestScopedInspection compares the two inspections of the sample apps). A
// query whose text does not contain the part (another Atlas version) runs as Atlas wrote it: slower,
// never wrong; the test then fails, so that the rewrite is brought up to date.

// scopedRewrite replaces the first match of old, a fragment of an Atlas query matched with any run
// of white space where the fragment has one, by new. In new, TABLES stands for the query's list of
// table-name parameters ($2, $3, ...; $1 is the schema name).
type scopedRewrite struct {
	name string
	old  *regexp.Regexp
	new  string
}

// fragment compiles an Atlas query fragment into a pattern that ignores how it is indented.
func fragment(s string) *regexp.Regexp {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(strings.Join(words, `\s+`))
}

// scopedRewrites are the replacements, compiled once; they are only read after init.
var scopedRewrites = []scopedRewrite{{
	// pg_sequences' last_value, for the one sequence the column owns, without scanning the view.
	name: "identity last value",
	old: fragment(`(SELECT last_value FROM pg_sequences WHERE quote_ident(schemaname) || '.' || quote_ident(sequencename) =
		pg_get_serial_sequence(quote_ident(t1.table_schema) || '.' || quote_ident(t1.table_name), t1.column_name))`),
	new: `(SELECT CASE WHEN pg_catalog.has_sequence_privilege(s.oid, 'SELECT,USAGE') THEN pg_catalog.pg_sequence_last_value(s.oid) END
		FROM (SELECT pg_catalog.pg_get_serial_sequence(quote_ident(t1.table_schema) || '.' || quote_ident(t1.table_name), t1.column_name)::regclass AS oid) s)`,
}, {
	// The indexes of the listed tables only.
	name: "indexes of the schema",
	old:  fragment(`from pg_index i ) idx`),
	new: `from pg_index i WHERE i.indrelid IN (SELECT c.oid FROM pg_catalog.pg_class c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname IN (TABLES))
	) idx`,
}, {
	// The constraints whose conindid is the index: a primary key, unique or exclusion constraint
	// that the index depends on (internally), and the foreign keys that depend on it.
	name: "constraints of an index",
	old: fragment(`LEFT JOIN ( select conindid, jsonb_object_agg(conname, contype) AS nametypes from pg_constraint
		group by conindid ) con ON con.conindid = idx.indexrelid`),
	new: `LEFT JOIN LATERAL (
		SELECT jsonb_object_agg(k.conname, k.contype) AS nametypes FROM pg_catalog.pg_constraint k
		WHERE k.conindid = idx.indexrelid AND k.oid IN (
			SELECT d.refobjid FROM pg_catalog.pg_depend d
			WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = idx.indexrelid AND d.refclassid = 'pg_catalog.pg_constraint'::regclass
			UNION ALL
			SELECT d.objid FROM pg_catalog.pg_depend d
			WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = idx.indexrelid AND d.classid = 'pg_catalog.pg_constraint'::regclass)
	) con ON true`,
}}

// scopedCatalog is the schema.ExecQuerier that Atlas inspects through. rewrote, when set, counts
// the rewrites made, by name (for the test that checks they still apply).
type scopedCatalog struct {
	schema.ExecQuerier
	rewrote func(name string)
}

// QueryContext runs query with the rewrites that apply. Each rewritten query names the schema as
// $1 and has table-name parameters, as the queries of Atlas' inspection that read tables do.
func (c scopedCatalog) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if len(args) > 1 && strings.Contains(query, "$1") {
		for _, r := range scopedRewrites {
			loc := r.old.FindStringIndex(query)
			if loc == nil {
				continue
			}
			query = query[:loc[0]] + strings.ReplaceAll(r.new, "TABLES", paramList(2, len(args))) + query[loc[1]:]
			if c.rewrote != nil {
				c.rewrote(r.name)
			}
		}
	}
	return c.ExecQuerier.QueryContext(ctx, query, args...)
}

// paramList writes "$from, ..., $to".
func paramList(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		if i > from {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// openAtlas opens Atlas' PostgreSQL driver on tx, inspecting through scopedCatalog.
func openAtlas(tx *sql.Tx) (migrate.Driver, error) {
	return postgres.Open(scopedCatalog{ExecQuerier: tx})
}
