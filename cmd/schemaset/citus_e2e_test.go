package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/internal/citustest"
)

// newCitusFixture is newFixture on a throwaway database of the Citus cluster (skipped without one).
func newCitusFixture(t *testing.T) *fixture {
	t.Helper()
	citustest.SkipUnderRace(t) // the binary under test is built without the race detector
	return fixtureOn(t, citustest.NewDatabase(t))
}

// nodeOf returns the node status prints for a schema.
func nodeOf(t *testing.T, status, schema string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + schema + `\s+\w+\s+up to date\s+(\S+)$`).FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("status has no up-to-date line with a node for %s:\n%s", schema, status)
	}
	return m[1]
}

// TestCitusEndToEnd drives the binary against a Citus coordinator: apply, tenant create (by clone
// and by a claim from the pool), clone, status and tenant list with nodes, tenant move, rebalance,
// tenant drop, and an added column through plan once, apply many.
func TestCitusEndToEnd(t *testing.T) {
	f := newCitusFixture(t)
	r := f.ok("apply")
	wantContains(t, "apply", r.stdout, "Citus 13.", "coordinator, 2 node(s) for tenants", "apply: 4 applied")
	f.ok("tenant", "create", "acme", "--domain", "acme.example.test")
	f.ok("clone", "acme", "acme2", "--tenant")
	// The pool: a claim renames a distributed schema, which Citus allows.
	f.edit("pgschemas.hcl", `clone_reference = "sample"`, "clone_reference = \"sample\"\n  pool = 1")
	f.ok("pool", "fill")
	f.ok("tenant", "create", "globex")
	if got := f.count(`SELECT count(*) FROM public.pgschemas_pool`); got != 0 {
		t.Errorf("globex did not claim the pooled schema: %d left in the pool", got)
	}
	distributed := f.strings(`SELECT schema_name::text FROM citus_schemas ORDER BY 1`)
	for _, s := range []string{"www", "blog", "sample", "acme", "acme2", "globex"} {
		if !slices.Contains(distributed, s) {
			t.Errorf("%s is not a distributed schema: %v", s, distributed)
		}
	}
	st := f.ok("status")
	wantContains(t, "status", st.stdout, "SCHEMA  KIND       STATE       NODE", "status: 7 up to date")
	workers := f.strings(`SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE shouldhaveshards ORDER BY nodeid`)
	from := nodeOf(t, st.stdout, "acme")
	if !slices.Contains(workers, from) {
		t.Fatalf("acme is on %s, not a worker %v", from, workers)
	}
	list := f.ok("tenant", "list").stdout
	if !regexp.MustCompile(`(?m)^acme\s+` + regexp.QuoteMeta(from) + `\s+\d+`).MatchString(list) {
		t.Errorf("tenant list does not show acme on %s:\n%s", from, list)
	}

	to := workers[0]
	if to == from {
		to = workers[1]
	}
	f.exec(`INSERT INTO acme.notes (body) SELECT 'n' || i FROM generate_series(1, 1000) i`)
	mv := f.ok("tenant", "move", "acme", "--to", to, "--mode", "block_writes")
	wantContains(t, "tenant move", mv.stdout, `moved "acme" from `+from+` to `+to+` (block_writes`, "writes blocked at most")
	if got := nodeOf(t, f.ok("status").stdout, "acme"); got != to {
		t.Errorf("after the move status puts acme on %s, want %s", got, to)
	}
	if n := f.count(`SELECT count(*) FROM acme.notes`); n != 1000 {
		t.Errorf("acme.notes has %d rows after the move, want 1000", n)
	}
	r = f.want(1, "tenant", "move", "acme", "--to", to)
	wantContains(t, "move to its own node", r.stderr, "already on that node")
	f.want(2, "tenant", "move", "acme", "--to", to, "--mode", "fast")
	f.want(2, "tenant", "move", "acme")

	// Pile every schema on one worker; the rebalancer spreads them again.
	for _, s := range []string{"www", "blog", "sample", "acme", "acme2", "globex"} {
		if nodeOf(t, f.ok("status").stdout, s) != workers[0] {
			f.ok("tenant", "move", s, "--to", workers[0], "--mode", "block_writes", "--no-probe")
		}
	}
	dry := f.ok("rebalance", "--dry-run")
	wantContains(t, "rebalance --dry-run", dry.stdout, "to "+workers[1], "move(s) planned (dry run)")
	rb := f.ok("rebalance", "--mode", "block_writes")
	wantContains(t, "rebalance", rb.stdout, "finished")
	wantContains(t, "rebalance progress", rb.stderr, "task(s) done")
	st = f.ok("status")
	on := map[string]int{}
	for _, s := range []string{"www", "blog", "sample", "acme", "acme2", "globex"} {
		on[nodeOf(t, st.stdout, s)]++
	}
	if on[workers[0]] == 0 || on[workers[1]] == 0 {
		t.Errorf("after rebalance the schemas are on %v, want both workers", on)
	}

	// An added column: plan once, apply many, propagated by Citus to each tenant's node.
	f.edit("apps/tenant/notes.sql", "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,")
	wantContains(t, "apply of a column", f.ok("apply").stdout, `applied dynamic "acme2"`, "apply: 4 applied")
	for _, s := range []string{"sample", "acme", "acme2", "globex"} {
		if !slices.Contains(f.columns(s, "notes"), "pinned") {
			t.Errorf("no column %s.notes.pinned after apply", s)
		}
	}
	f.ok("tenant", "drop", "acme2", "--yes")
	if f.schemaExists("acme2") || slices.Contains(f.strings(`SELECT schema_name::text FROM citus_schemas`), "acme2") {
		t.Error("acme2 is still there after tenant drop")
	}
}

// TestCitusRefusesAnAppItCannotDistribute: a tenant app whose table references a table that stays
// on the coordinator is refused at load, with file:line, and nothing is created.
func TestCitusRefusesAnAppItCannotDistribute(t *testing.T) {
	f := newCitusFixture(t)
	f.write("apps/tenant/hosts.sql", "CREATE TABLE hosts (\n  domain text NOT NULL,\n  folder text NOT NULL,\n"+
		"  FOREIGN KEY (domain, folder) REFERENCES pgschemas_domain (domain, folder)\n);\n")
	r := f.want(1, "apply")
	wantContains(t, "refused apply", r.stderr, "tenant/hosts.sql:1", "foreign key")
	if strings.Contains(r.stdout, "applied ") || f.schemaExists("sample") || f.schemaExists("www") {
		t.Errorf("the refused apply created schemas:\n%s", r)
	}
}
