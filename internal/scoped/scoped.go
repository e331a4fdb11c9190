package scoped

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
// Querier passes Atlas' queries through to the database, with those three parts replaced by
// equivalents that an index leads to from the schema's tables: the same rows, the same columns,
// in the same order (schemaset's TestScopedInspection compares the two inspections of the sample apps). A
// query whose text does not contain the part (another Atlas version) runs as Atlas wrote it: slower,
// never wrong; the test then fails, so that the rewrite is brought up to date.

// rewrite replaces the first match of old, a fragment of an Atlas query matched with any run
// of white space where the fragment has one, by new. In new, TABLES stands for the query's list of
// table-name parameters ($2, $3, ...; $1 is the schema name).
type rewrite struct {
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

// rewrites are the replacements, compiled once; they are only read after init.
var rewrites = []rewrite{{
	// pg_sequences' last_value, for the one sequence the column owns, without scanning the view.
	// pg_sequence_last_value locks the sequence for the rest of the top-level transaction, even when
	// called under a savepoint (sequence locks belong to the top transaction), so that a plan over
	// thousands of tenants would pile up their sequences' locks. A plain SELECT from the sequence
	// (run with query_to_xml, which takes a query as text) locks it like any relation, and that
	// lock goes when the tenant's savepoint is rolled back. It reads the same: last_value once
	// nextval has been called, else NULL. A role with USAGE but not SELECT falls back to
	// pg_sequence_last_value.
	name: "identity last value",
	old: fragment(`(SELECT last_value FROM pg_sequences WHERE quote_ident(schemaname) || '.' || quote_ident(sequencename) =
		pg_get_serial_sequence(quote_ident(t1.table_schema) || '.' || quote_ident(t1.table_name), t1.column_name))`),
	new: `(SELECT CASE WHEN pg_catalog.has_sequence_privilege(s.oid, 'SELECT') THEN (pg_catalog.xpath('/row/v/text()',
			pg_catalog.query_to_xml('SELECT CASE WHEN is_called THEN last_value END AS v FROM ' || s.oid::regclass::text, false, true, '')))[1]::text::bigint
		WHEN pg_catalog.has_sequence_privilege(s.oid, 'USAGE') THEN pg_catalog.pg_sequence_last_value(s.oid) END
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

// Querier is the schema.ExecQuerier that Atlas inspects through. Rewrote, when set, is called with
// the name of each rewrite made (for the test that checks they still apply).
type Querier struct {
	schema.ExecQuerier
	Rewrote func(name string)
}

// Rewrites names the rewrites, in the order they are tried.
func Rewrites() []string {
	out := make([]string, len(rewrites))
	for i, r := range rewrites {
		out[i] = r.name
	}
	return out
}

// QueryContext runs query with the rewrites that apply. Each rewritten query names the schema as
// $1 and has table-name parameters, as the queries of Atlas' inspection that read tables do.
func (c Querier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if len(args) > 1 && strings.Contains(query, "$1") {
		for _, r := range rewrites {
			loc := r.old.FindStringIndex(query)
			if loc == nil {
				continue
			}
			query = query[:loc[0]] + strings.ReplaceAll(r.new, "TABLES", paramList(2, len(args))) + query[loc[1]:]
			if c.Rewrote != nil {
				c.Rewrote(r.name)
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

// Open opens Atlas' PostgreSQL driver on q, inspecting through a Querier.
func Open(q schema.ExecQuerier) (migrate.Driver, error) {
	return postgres.Open(Querier{ExecQuerier: q})
}
