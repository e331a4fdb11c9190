package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPool: apply fills the pool the config asks for; pool status lists it; tenant create claims a
// pooled schema (the tenant's schema is the pooled one, renamed) and pool fill tops the pool up;
// pooled schemas stay out of tenant list and status.
func TestPool(t *testing.T) {
	f := newFixture(t)
	f.edit("pgschemas.hcl", `clone_reference = "sample"`, "clone_reference = \"sample\"\n  pool = 2")
	r := f.ok("apply")
	wantContains(t, "apply's output", r.stdout, "pool: 2 filled, 0 dropped, 2 ready")
	r = f.ok("pool", "status")
	wantContains(t, "pool status", r.stdout, "pgschemas_pool_1  current", "pgschemas_pool_2  current", "pool: 2 ready of size 2, 2 pooled")
	oids := f.strings(`SELECT oid::text FROM pg_namespace WHERE nspname LIKE 'pgschemas\_pool\_%'`)
	f.ok("tenant", "create", "acme", "--domain", "acme.example.test")
	if got := f.strings(`SELECT oid::text FROM pg_namespace WHERE nspname = 'acme'`); len(got) != 1 || !strings.Contains(strings.Join(oids, " "), got[0]) {
		t.Errorf("acme's schema %v is not one of the pooled %v", got, oids)
	}
	if r := f.ok("tenant", "list"); r.stdout != "NAME  DOMAINS\nacme  acme.example.test (primary)\n" {
		t.Errorf("tenant list = %q, want only acme", r.stdout)
	}
	if r := f.ok("status"); strings.Contains(r.stdout, "pgschemas_pool") {
		t.Errorf("status lists a pooled schema:\n%s", r.stdout)
	}
	r = f.ok("pool", "fill")
	wantContains(t, "pool fill", r.stdout, "pool: 1 filled, 0 dropped, 2 ready")
	r = f.ok("pool", "fill", "--size", "3")
	wantContains(t, "pool fill --size 3", r.stdout, "pool: 1 filled, 0 dropped, 3 ready")
	var st struct {
		Size, Ready int
		Schemas     []struct {
			Schema  string
			Current bool
		}
	}
	if err := json.Unmarshal([]byte(f.ok("pool", "status", "--json").stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 2 || st.Ready != 3 || len(st.Schemas) != 3 || !st.Schemas[2].Current {
		t.Errorf("pool status --json = %+v, want 3 current of size 2", st)
	}
	var rep struct {
		Pool struct {
			Filled, Dropped []string
			Ready           int
		}
	}
	if err := json.Unmarshal([]byte(f.ok("apply", "--json").stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Pool.Filled) != 0 || len(rep.Pool.Dropped) != 1 || rep.Pool.Ready != 2 {
		t.Errorf("apply --json over a pool beyond its size: pool %+v, want 1 dropped and 2 ready", rep.Pool)
	}
	f.want(2, "pool")
	f.want(2, "pool", "fill", "--size", "-1")
}

// TestPoolNone: without a pool in the config, pool fill fails and says why.
func TestPoolNone(t *testing.T) {
	f := newFixture(t)
	f.ok("apply")
	r := f.want(1, "pool", "fill")
	wantContains(t, "pool fill's error", r.stderr, "error: schemaset: pool fill: the config keeps no pool of pre-cloned schemas: dynamic { pool } is 0")
	r = f.ok("pool", "status")
	wantContains(t, "pool status", r.stdout, "pool: 0 ready of size 0, 0 pooled")
}
