package schemaset

import (
	"slices"
	"testing"

	"ariga.io/atlas/sql/schema"
)

// TestPlanRoutinesOrder: the order of planRoutines' statements, without a server. A view on a
// changed table is dropped before Atlas' statements and made again after them; a function whose
// signature names a view's row type comes after that view; a function whose signature names none
// of the schema's types comes before Atlas' statements (a default may call it), with body checks
// off; a function no app declares is dropped after Atlas' statements and reported.
func TestPlanRoutinesOrder(t *testing.T) {
	view := func(name, def string, deps ...string) routine {
		return routine{kind: "view", name: name, def: def, deps: deps}
	}
	fn := func(name, def string, deps ...string) routine {
		return routine{kind: "function", name: name, def: def, sig: "-> integer", deps: deps}
	}
	set := func(rs ...routine) routines {
		out := routines{}
		for i, r := range rs {
			r.oid = int64(i)
			out[r.key()] = r
		}
		return out
	}
	live := set(view("a", " AS SELECT 1", "table t"), view("b", " AS SELECT 2", "view a"), view("c", " AS SELECT 3"), fn("old", "()"))
	want := set(view("a", " AS SELECT 1", "table t"), view("b", " AS SELECT 2", "view a"), view("c", " AS SELECT 3"),
		fn("rows_of", "() RETURNS SETOF n", "type n"), view("n", " AS SELECT 4", "table t"), fn("plain", "()"))
	changes := schema.Changes{&schema.ModifyTable{T: schema.NewTable("t")}}
	p := planRoutines("s", want, live, changes)
	wantBefore := []string{noBodyCheck, `DROP VIEW "s"."b"`, `DROP VIEW "s"."a"`, `CREATE OR REPLACE FUNCTION "s"."plain"()`}
	wantAfter := []string{`DROP FUNCTION "s"."old"()`, `CREATE VIEW "s"."a" AS SELECT 1`, `CREATE VIEW "s"."b" AS SELECT 2`,
		`CREATE VIEW "s"."n" AS SELECT 4`, `CREATE OR REPLACE FUNCTION "s"."rows_of"() RETURNS SETOF n`}
	if !slices.Equal(p.before, wantBefore) || !slices.Equal(p.after, wantAfter) {
		t.Errorf("before %q\nafter %q\nwant before %q\nafter %q", p.before, p.after, wantBefore, wantAfter)
	}
	if !slices.Equal(p.dropped, []string{"drop function old()"}) {
		t.Errorf("dropped %q", p.dropped)
	}
	// Nothing changes: nothing to do.
	if p := planRoutines("s", want, want, nil); len(p.before)+len(p.after)+len(p.dropped) > 0 {
		t.Errorf("a plan for no change: %+v", p)
	}
}
