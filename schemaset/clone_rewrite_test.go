package schemaset

import (
	"strings"
	"testing"
)

func TestRewriteQualified(t *testing.T) {
	names := map[string]bool{"users": true, "Mixed": true, "touch": true}
	for _, c := range []struct{ in, want string }{
		{"SELECT * FROM sample.users", "SELECT * FROM #.users"},
		{`SELECT * FROM "sample"."users"`, `SELECT * FROM #."users"`},
		{`SELECT * FROM Sample . users`, `SELECT * FROM # . users`},
		{`SELECT * FROM sample."Mixed"`, `SELECT * FROM #."Mixed"`},
		{`SELECT * FROM sample.mixed`, `SELECT * FROM sample.mixed`}, // folds to mixed, not Mixed
		{`SELECT sample.id FROM t AS sample`, `SELECT sample.id FROM t AS sample`},
		{`SELECT 'sample.users', E'it\'s sample.users'`, `SELECT 'sample.users', E'it\'s sample.users'`},
		// At the top of a definition, a dollar-quoted string is the body, scanned as code.
		{`AS $$ SELECT 'sample.users' FROM sample.users $$`, `AS $$ SELECT 'sample.users' FROM #.users $$`},
		{"-- sample.users\n/* sample.users /* nested */ sample.users */ x", "-- sample.users\n/* sample.users /* nested */ sample.users */ x"},
		{`AS $function$ BEGIN PERFORM sample.touch(); EXECUTE $e$ DELETE FROM sample.users $e$; END $function$`,
			`AS $function$ BEGIN PERFORM #.touch(); EXECUTE $e$ DELETE FROM sample.users $e$; END $function$`},
		{`x::sample.users[]`, `x::#.users[]`},
		{`other.sample.users`, `other.#.users`},
		{`samples.users, sample_users, $1.sample`, `samples.users, sample_users, $1.sample`},
	} {
		got := strings.ReplaceAll(rewriteQualified(c.in, "sample", names), dstMark, "#")
		if got != c.want {
			t.Errorf("rewriteQualified(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	if got := rewriteQualified(`SELECT * FROM "Acme".users, acme.users`, "Acme", names); got != `SELECT * FROM `+dstMark+`.users, acme.users` {
		t.Errorf("an upper-case source: %q", got)
	}
}

func TestRewritePath(t *testing.T) {
	for _, c := range []struct {
		in, want string
		changed  bool
	}{
		{"sample, public", "#, public", true},
		{`"$user", public`, `"$user", public`, false},
		{`"sample",public`, "#, public", true},
		{"Sample", "#", true},
		{"samples", "samples", false},
	} {
		got, changed := rewritePath(c.in, "sample")
		if got = strings.ReplaceAll(got, dstMark, "#"); got != c.want || changed != c.changed {
			t.Errorf("rewritePath(%q) = %q, %v; want %q, %v", c.in, got, changed, c.want, c.changed)
		}
	}
}

func TestCloneLiteral(t *testing.T) {
	for in, want := range map[string]string{"it's": `'it''s'`, `a\b`: `E'a\\b'`, `a\'b`: `E'a\\''b'`} {
		if got := cloneLiteral(in); got != want {
			t.Errorf("cloneLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestCloneSortOrdersAndFindsCycles(t *testing.T) {
	g := &cloneGen{made: map[objRef]*cloneNode{}, alias: map[objRef]objRef{}}
	idx := g.node(phaseIndex, "index")
	table := g.node(phaseDefine, "table")
	rows := g.node(phaseData, "rows")
	fn := g.node(phaseDefine, "function")
	view := g.node(phaseDefine, "view")
	for _, n := range []*cloneNode{idx, table, rows, fn, view} {
		n.add(n.what)
	}
	need(idx, table)
	need(rows, table)
	need(view, table)
	need(view, fn)
	need(table, fn)
	got, _, err := g.sort()
	if want := "function table view rows index"; err != nil || strings.Join(got, " ") != want {
		t.Errorf("sort = %q, %v; want %s", got, err, want)
	}
	g = &cloneGen{made: map[objRef]*cloneNode{}, alias: map[objRef]objRef{}}
	a, b, c := g.node(phaseDefine, "a"), g.node(phaseDefine, "b"), g.node(phaseDefine, "c")
	need(a, b)
	need(b, c)
	need(c, b)
	if _, _, err := g.sort(); err == nil || !strings.Contains(err.Error(), "b needs c needs b") {
		t.Errorf("sort of a cycle = %v", err)
	}
}
