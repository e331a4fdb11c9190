package schemaset

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"ariga.io/atlas/sql/schema"
)

// Views and functions.
//
// Atlas' open-source driver neither inspects nor diffs views and functions, so the engine manages
// those of the apps itself: it reads their definitions from the catalog, in the scratch schema
// where the desired state is computed and in the live schema, rendered with the schema first on
// the search path so that the schema's name is in neither, and compares them. The statements that
// create, replace and drop them join the plan, around Atlas' statements, in the schema's
// transaction:
//
//  1. DROP VIEW, dependents first, for each view that goes, changes, or depends on a table that
//     Atlas' statements change or on a function or view that is dropped;
//  2. DROP FUNCTION for a function whose arguments or result change (CREATE OR REPLACE cannot
//     change them), then CREATE OR REPLACE FUNCTION for each new or changed function whose
//     signature names none of the schema's types (a default may call it);
//  3. Atlas' statements;
//  4. DROP FUNCTION for each function that no app declares any more;
//  5. CREATE OR REPLACE FUNCTION for the other new or changed functions (their signature names a
//     table's row type, a view's or an enum, which step 3 may create), and CREATE VIEW for each
//     new view and each view dropped in step 1, each after what it depends on.
//
// A view that must be dropped while a function's signature names its row type stops the apply
// of the schema (PostgreSQL refuses the DROP VIEW), which is then left as it was.
//
// Function bodies are not checked while they are created (check_function_bodies off, as pg_dump
// does): their tables may come in step 3, and the scratch schema checked them already.
// A view or function that no app declares is dropped, which Result.Destructive reports.

// routine is a view or a function of a schema, as the catalog defines it.
type routine struct {
	kind string // "view" or "function"
	name string
	args string // a function's identity arguments, "integer, text"
	// def is the definition after the qualified name: for a view " WITH (...) AS SELECT ...",
	// for a function "(a integer)\n RETURNS integer\n LANGUAGE sql\nAS ...".
	def string
	// sig is a function's arguments with names and defaults and its result: what CREATE OR
	// REPLACE cannot change.
	sig string
	// deps are the keys of what it depends on in the schema: "table NAME", "view NAME",
	// "function NAME(ARGS)", "type NAME".
	deps []string
	oid  int64 // its creation order, among those whose dependencies leave the order free
}

// key names the routine within its schema: "view NAME", "function NAME(ARGS)".
func (r routine) key() string {
	if r.kind == "function" {
		return "function " + r.name + "(" + r.args + ")"
	}
	return "view " + r.name
}

// qualified is the routine's name in schema s, as a statement writes it.
func (r routine) qualified(s string) string {
	return quoteIdent(s) + "." + quoteIdent(r.name)
}

// create returns the statement that creates (or replaces) the routine in schema s.
func (r routine) create(s string) string {
	if r.kind == "function" {
		return "CREATE OR REPLACE FUNCTION " + r.qualified(s) + r.def
	}
	return "CREATE VIEW " + r.qualified(s) + r.def
}

// drop returns the statement that drops the routine from schema s.
func (r routine) drop(s string) string {
	if r.kind == "function" {
		return "DROP FUNCTION " + r.qualified(s) + "(" + r.args + ")"
	}
	return "DROP VIEW " + r.qualified(s)
}

// routines are a schema's views and functions by key.
type routines map[string]routine

// routinesQuery lists the plain views and functions of schema $1, without extensions' members
// and the engine's own (pgschemas_...). Definitions are rendered relative to the search path,
// which the caller sets to the schema first.
const routinesQuery = `
WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)
SELECT 'view', c.relname, '', c.oid::int8, '',
	coalesce(' WITH (' || pg_catalog.array_to_string(c.reloptions, ', ') || ')', '') || ' AS' ||
		pg_catalog.rtrim(pg_catalog.pg_get_viewdef(c.oid, true), ';'), '',
	ARRAY(SELECT DISTINCT x FROM (
		SELECT (SELECT CASE r.relkind WHEN 'v' THEN 'view ' ELSE 'table ' END || r.relname FROM pg_catalog.pg_class r
				WHERE r.oid = d.refobjid AND r.relnamespace = (SELECT oid FROM ns) AND r.oid <> c.oid)
		FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
			AND d.objid IN (SELECT w.oid FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid)
		UNION ALL
		SELECT (SELECT 'function ' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
				FROM pg_catalog.pg_proc p WHERE p.oid = d.refobjid AND p.pronamespace = (SELECT oid FROM ns))
		FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_proc'::regclass
			AND d.objid IN (SELECT w.oid FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid)
	) deps(x) WHERE x IS NOT NULL ORDER BY x)
FROM pg_catalog.pg_class c
WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind = 'v' AND c.relname NOT LIKE 'pgschemas\_%'
	AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.deptype = 'e' AND e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid)
UNION ALL
SELECT 'function', p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), p.oid::int8,
	'CREATE OR REPLACE FUNCTION ' || pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident(p.proname),
	pg_catalog.pg_get_functiondef(p.oid),
	pg_catalog.pg_get_function_arguments(p.oid) || ' -> ' || pg_catalog.pg_get_function_result(p.oid),
	ARRAY(SELECT DISTINCT 'type ' || t.typname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_type t ON t.oid = d.refobjid
		WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_catalog.pg_type'::regclass
			AND t.typnamespace = (SELECT oid FROM ns) ORDER BY 1)
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = (SELECT oid FROM ns) AND p.prokind = 'f' AND p.proname NOT LIKE 'pgschemas\_%'
	AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.deptype = 'e' AND e.classid = 'pg_catalog.pg_proc'::regclass AND e.objid = p.oid)`

// readRoutines reads the views and functions of schema name. The search path must start with
// name. standIn, when not empty, is the scratch schema that stood for public: a name that the
// server had to qualify with it is written with public instead.
func readRoutines(ctx context.Context, tx *sql.Tx, name, standIn string) (routines, error) {
	rows, err := tx.QueryContext(ctx, routinesQuery, name)
	if err != nil {
		return nil, fmt.Errorf("read the views and functions of %q: %w", name, err)
	}
	defer rows.Close()
	out := routines{}
	for rows.Next() {
		var (
			r    routine
			head string
		)
		if err := rows.Scan(&r.kind, &r.name, &r.args, &r.oid, &head, &r.def, &r.sig, typeMap.SQLScanner(&r.deps)); err != nil {
			return nil, fmt.Errorf("read the views and functions of %q: %w", name, err)
		}
		if r.kind == "function" {
			rest, ok := strings.CutPrefix(r.def, head)
			if !ok {
				return nil, fmt.Errorf("function %s(%s) of %q: unexpected definition %q", r.name, r.args, name, oneLine(r.def))
			}
			r.def = strings.TrimRight(rest, "\n")
		}
		if standIn != "" {
			r.def = strings.ReplaceAll(r.def, standIn+".", "public.")
			r.sig = strings.ReplaceAll(r.sig, standIn+".", "public.")
		}
		out[r.key()] = r
	}
	return out, rows.Err()
}

// liveRoutines reads the views and functions of the schema name, with its search path. A plan,
// which runs a schema's pending steps in a copy of it, reads them in the schema, as they are
// before the steps: a step that changes a view shows in the apply's plan, not in this one.
func (e *Engine) liveRoutines(ctx context.Context, tx *sql.Tx, name string) (routines, error) {
	if err := setLocal(ctx, tx, "search_path", e.searchPath(name)); err != nil {
		return nil, err
	}
	return readRoutines(ctx, tx, name, "")
}

// noBodyCheck starts a plan that creates functions: their bodies may name tables that the plan
// creates later, and the scratch schema checked them already.
const noBodyCheck = "SET LOCAL check_function_bodies = off"

// routinePlan is what the engine does to a schema's views and functions around Atlas' statements.
type routinePlan struct {
	before, after []string
	// dropped names the views and functions that no app declares any more.
	dropped []string
}

// planRoutines returns the statements that bring the live views and functions of schema s to
// want, given Atlas' changes of its tables (see the order at the top of this file).
func planRoutines(s string, want, live routines, changes schema.Changes) routinePlan {
	var p routinePlan
	touched := map[string]bool{} // tables that Atlas' statements change or drop
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.ModifyTable:
			touched["table "+c.T.Name] = true
		case *schema.DropTable:
			touched["table "+c.T.Name] = true
		}
	}
	// Functions that are dropped, before (their signature changes) or after (no app declares them).
	recreate, gone := map[string]bool{}, map[string]bool{}
	for k, r := range live {
		if r.kind != "function" {
			continue
		}
		w, ok := want[k]
		switch {
		case !ok:
			gone[k] = true
		case w.sig != r.sig:
			recreate[k] = true
		}
	}
	// Views dropped first: those that go or change, and those that depend on what changes.
	redo := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for k, r := range live {
			if r.kind != "view" || redo[k] {
				continue
			}
			w, ok := want[k]
			hit := !ok || w.def != r.def
			for _, d := range r.deps {
				hit = hit || touched[d] || recreate[d] || gone[d] || redo[d]
			}
			if hit {
				redo[k], changed = true, true
			}
		}
	}
	for _, k := range slices.Backward(ordered(live, redo)) {
		p.before = append(p.before, live[k].drop(s))
	}
	for _, k := range slices.Sorted(maps.Keys(recreate)) {
		p.before = append(p.before, live[k].drop(s))
	}
	// Made after Atlas' statements: the functions whose signature names one of the schema's
	// types, and the views, each after what it depends on.
	later := map[string]bool{}
	createsFunction := false
	for _, k := range slices.Sorted(maps.Keys(want)) {
		w := want[k]
		r, ok := live[k]
		switch {
		case w.kind == "view" && (!ok || redo[k]):
			later[k] = true
		case w.kind != "function" || ok && r.def == w.def && !recreate[k]:
		case len(w.deps) == 0:
			p.before = append(p.before, w.create(s))
			createsFunction = true
		default:
			later[k] = true
			createsFunction = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(gone)) {
		p.after = append(p.after, live[k].drop(s))
	}
	for _, k := range ordered(want, later) {
		p.after = append(p.after, want[k].create(s))
	}
	if createsFunction {
		p.before = append([]string{noBodyCheck}, p.before...)
	}
	for k, r := range live {
		if _, ok := want[k]; !ok {
			p.dropped = append(p.dropped, "drop "+r.kind+" "+strings.TrimPrefix(k, r.kind+" "))
		}
	}
	sort.Strings(p.dropped)
	return p
}

// ordered returns the keys of set in an order in which each comes after what it depends on
// among them (a function whose signature names a view's row type after the view), in creation
// order where that leaves it free.
func ordered(all routines, set map[string]bool) []string {
	keys := slices.Sorted(maps.Keys(set))
	sort.SliceStable(keys, func(i, j int) bool { return all[keys[i]].oid < all[keys[j]].oid })
	var out []string
	done := map[string]bool{}
	var visit func(k string)
	visit = func(k string) {
		if done[k] {
			return
		}
		done[k] = true
		for _, d := range all[k].deps {
			if strings.HasPrefix(d, "type ") {
				d = "view " + strings.TrimPrefix(d, "type ")
			}
			if set[d] {
				visit(d)
			}
		}
		out = append(out, k)
	}
	for _, k := range keys {
		visit(k)
	}
	return out
}
