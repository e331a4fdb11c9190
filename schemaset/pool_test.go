package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

// poolEdits are the sample set's edits that keep a pool of n pre-cloned schemas, with more edits.
func poolEdits(t testing.TB, n int, more map[string]string) map[string]string {
	t.Helper()
	hcl := string(mustRead(t, "pgschemas.hcl"))
	edits := map[string]string{"pgschemas.hcl": strings.Replace(hcl, `clone_reference = "sample"`,
		fmt.Sprintf("clone_reference = \"sample\"\n  pool            = %d", n), 1)}
	maps.Copy(edits, more)
	return edits
}

// seededPool applies the sample set, seeds the reference with a user and a note, and returns an
// engine that keeps a pool of n, whose pool is filled.
func seededPool(t *testing.T, n int) (*sql.DB, *schemaset.Engine) {
	t.Helper()
	db := fresh(t)
	db.SetMaxOpenConns(20)
	mustApply(t, schemaset.New(sampleSet(t, nil), db, schemaset.Options{}), schemaset.ApplyOptions{})
	mustExec(t, db, `INSERT INTO sample.users (email) VALUES ('seed@example.test');
		INSERT INTO sample.notes (author_id, body) VALUES (1, 'welcome')`)
	e := schemaset.New(sampleSet(t, poolEdits(t, n, nil)), db, schemaset.Options{})
	fill, err := e.FillPool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(fill.Filled) != n || fill.Ready != n {
		t.Fatalf("FillPool filled %v, ready %d; want %d", fill.Filled, fill.Ready, n)
	}
	return db, e
}

// pooled returns the oid of each pooled schema, by name.
func pooled(t testing.TB, db *sql.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, s := range strs(t, db, `SELECT p.schema_name || ' ' || n.oid FROM pgschemas_pool p
		JOIN pg_namespace n ON n.nspname = p.schema_name`) {
		var name string
		var oid int64
		if _, err := fmt.Sscan(s, &name, &oid); err != nil {
			t.Fatal(err)
		}
		out[name] = oid
	}
	return out
}

func schemaOID(t testing.TB, db *sql.DB, name string) int64 {
	t.Helper()
	var oid int64
	if err := db.QueryRow(`SELECT oid FROM pg_namespace WHERE nspname = $1`, name).Scan(&oid); err != nil {
		t.Fatalf("schema %s: %v", name, err)
	}
	return oid
}

// poolSchemas lists the schemas named like pooled ones, whether in the pool table or not.
func poolSchemas(t testing.TB, db *sql.DB) []string {
	t.Helper()
	return strs(t, db, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pgschemas\_pool\_%' ORDER BY 1`)
}

// pointsInto lists what in the schema name renders a name that matches the regular expression re
// (by default, any pooled schema's name): each function with
// its SET options, view, default, constraint, trigger, index, rule, policy and sequence ownership,
// rendered with only pg_catalog on the search path, so that every object prints qualified by the
// schema it really is in.
func pointsInto(t testing.TB, db *sql.DB, name string, re ...string) []string {
	t.Helper()
	re = append(re, `pgschemas_pool_`)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SET LOCAL search_path = pg_catalog`); err != nil {
		t.Fatal(err)
	}
	return strs(t, tx, `SELECT x FROM (
		SELECT pg_get_functiondef(p.oid) || coalesce(array_to_string(p.proconfig, ','), '') AS x FROM pg_proc p WHERE p.pronamespace = $1::text::regnamespace
		UNION ALL SELECT pg_get_viewdef(c.oid) FROM pg_class c WHERE c.relnamespace = $1::text::regnamespace AND c.relkind IN ('v', 'm')
		UNION ALL SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid WHERE c.relnamespace = $1::text::regnamespace
		UNION ALL SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.connamespace = $1::text::regnamespace
		UNION ALL SELECT pg_get_triggerdef(g.oid) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = $1::text::regnamespace
		UNION ALL SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = $1::text::regnamespace
		UNION ALL SELECT pg_get_ruledef(r.oid) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = $1::text::regnamespace
		UNION ALL SELECT coalesce(qual, '') || coalesce(with_check, '') FROM pg_policies WHERE schemaname = $1::text
		UNION ALL SELECT pg_describe_object(d.classid, d.objid, 0) || ' ' || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
			FROM pg_depend d JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass WHERE c.relnamespace = $1::text::regnamespace
		UNION ALL SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = $1::text::regnamespace
	) s WHERE x ~ $2`, name, re[0])
}

// TestPoolConfig: dynamic { pool } is a whole number, zero or more, and needs clone_reference.
func TestPoolConfig(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{"clone_reference = \"ref\"\n  pool = -1", `pgschemas.hcl:3,10: dynamic: pool: must be zero (no pool) or more, not -1`},
		{"clone_reference = \"ref\"\n  pool = 1.5", `pgschemas.hcl:3,10: dynamic: pool: must be a whole number, not 1.5`},
		{"clone_reference = \"ref\"\n  pool = \"20\"", `pgschemas.hcl:3,10: dynamic: pool: must be a whole number, not string`},
		{"pool = 3", `pgschemas.hcl:2,10: dynamic: pool: 3 needs clone_reference: pooled schemas are clones of the reference`},
	} {
		_, err := schemaset.ParseConfig([]byte("dynamic {\n  "+tc.body+"\n}\n"), "pgschemas.hcl")
		if !errors.Is(err, schemaset.ErrInvalidConfig) || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
		}
	}
	c, err := schemaset.ParseConfig([]byte("dynamic {\n  clone_reference = \"ref\"\n  pool = 20\n}\n"), "pgschemas.hcl")
	if err != nil || c.Dynamic.Pool != 20 {
		t.Fatalf("pool = 20: %v, %+v", err, c)
	}
	if err := (&schemaset.Config{Dynamic: &schemaset.Dynamic{Pool: -2}}).Validate(nil); err == nil ||
		err.Error() != "dynamic: pool: must be zero (no pool) or more, not -2" {
		t.Errorf("Validate of pool -2: %v", err)
	}
}

// TestPoolClaim: a creation claims a current pooled schema (the tenant's schema is the pooled
// one, renamed); the tenant equals the reference, structure and rows, points nowhere into the
// pool, continues the reference's sequences, and its writes touch neither the reference nor the
// other pooled schema. Pooled schemas are not tenants: selectors, status, the list and routing
// never see them, and drop refuses them; the claimed tenant drops as any other.
func TestPoolClaim(t *testing.T) {
	ctx := context.Background()
	db, e := seededPool(t, 2)
	before := pooled(t, db)
	st, err := e.PoolStatus(ctx)
	if err != nil || st.Size != 2 || st.Ready != 2 || len(st.Schemas) != 2 || !st.Schemas[0].Current {
		t.Fatalf("PoolStatus = %+v, %v; want 2 current of 2", st, err)
	}
	if err := e.CreateTenant(ctx, "acme", schemaset.Domain{Domain: "acme.example.test"}); err != nil {
		t.Fatal(err)
	}
	oid := schemaOID(t, db, "acme")
	var claimedFrom, rest string
	for name, o := range before {
		if o == oid {
			claimedFrom = name
		} else {
			rest = name
		}
	}
	if claimedFrom == "" {
		t.Fatalf("acme (oid %d) is not one of the pooled schemas %v: it was not claimed", oid, before)
	}
	if got := pooled(t, db); len(got) != 1 || got[rest] != before[rest] {
		t.Fatalf("after the claim, the pool is %v; want only %s", got, rest)
	}
	if src, got := describe(t, db, "sample", "acme"), describe(t, db, "acme", "sample"); !slices.Equal(src, got) {
		t.Errorf("the claimed tenant differs from the reference:\n%s", diffLines(src, got))
	}
	if src, got := schemaRows(t, db, "sample"), schemaRows(t, db, "acme"); !maps.EqualFunc(src, got, slices.Equal) {
		t.Errorf("rows: reference %v, tenant %v", src, got)
	}
	if refs := pointsInto(t, db, "acme"); len(refs) > 0 {
		t.Errorf("the tenant points into the pool: %q", refs)
	}
	if refs := pointsInto(t, db, "public", `\m`+claimedFrom+`\M`); len(refs) > 0 {
		t.Errorf("public still names %s: %q", claimedFrom, refs)
	}
	var state string
	if err := db.QueryRow(`SELECT kind || ' ' || (fingerprint = $2) FROM pgschemas_schema_state WHERE schema_name = $1`,
		"acme", e.Set().Fingerprint(schemaset.Target{Kind: schemaset.KindDynamic})).Scan(&state); err != nil || state != "dynamic true" {
		t.Errorf("acme's record: %q, %v; want dynamic at the current fingerprint", state, err)
	}
	t.Run("sequences", func(t *testing.T) {
		var user, note int64
		if err := db.QueryRow(`INSERT INTO acme.users (email) VALUES ('ann@acme.test') RETURNING id`).Scan(&user); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`INSERT INTO acme.notes (author_id, body) VALUES ($1, 'hi') RETURNING id`, user).Scan(&note); err != nil {
			t.Fatal(err)
		}
		if user != 2 || note != 2 {
			t.Errorf("new ids in the claimed tenant: user %d, note %d; want 2 and 2, after the reference's", user, note)
		}
	})
	t.Run("isolated", func(t *testing.T) {
		mustExec(t, db, `UPDATE acme.notes SET body = 'changed'; DELETE FROM acme.settings; INSERT INTO acme.settings VALUES ('k', 'v', NULL)`)
		for _, s := range []string{"sample", rest} {
			if got := strs(t, db, fmt.Sprintf(`SELECT body FROM %s.notes UNION ALL SELECT key FROM %s.settings`, s, s)); !slices.Equal(got, []string{"welcome"}) {
				t.Errorf("%s after writes in acme: %q, want only its own note", s, got)
			}
		}
	})
	t.Run("not a tenant", func(t *testing.T) {
		if got, err := e.Tenants(ctx); err != nil || !slices.Equal(got, []string{"acme"}) {
			t.Errorf("Tenants = %v, %v; want [acme]", got, err)
		}
		targets, err := e.Select(ctx, schemaset.Selector{All: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			if strings.HasPrefix(tg.Schema, schemaset.PoolPrefix) {
				t.Errorf("--all selects the pooled schema %s", tg.Schema)
			}
		}
		if _, err := e.Select(ctx, schemaset.Selector{Schemas: []string{rest}}); !errors.Is(err, schemaset.ErrUnknownSchema) {
			t.Errorf("selecting %s: %v, want ErrUnknownSchema", rest, err)
		}
		status, err := e.Status(ctx, targets, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range status {
			if strings.HasPrefix(s.Schema, schemaset.PoolPrefix) || s.State != schemaset.StateUpToDate {
				t.Errorf("status: %s %s", s.Schema, s.State)
			}
		}
		if err := e.DropTenant(ctx, rest); !errors.Is(err, schemaset.ErrNotTenant) {
			t.Errorf("DropTenant(%s) = %v, want ErrNotTenant", rest, err)
		}
		if err := e.CreateTenant(ctx, rest); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("CreateTenant(%s) = %v, want the reserved prefix refused", rest, err)
		}
		r, err := resolve.New(e.Set().Config, db, resolve.Options{DisableListen: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Lookup(ctx, rest); !errors.Is(err, resolve.ErrNoTenant) {
			t.Errorf("resolve Lookup(%s) = %v, want ErrNoTenant", rest, err)
		}
		if tn, _, err := r.Resolve(ctx, "acme.example.test", "/"); err != nil || tn.Schema != "acme" {
			t.Errorf("resolve acme.example.test = %+v, %v", tn, err)
		}
	})
	t.Run("name taken", func(t *testing.T) {
		// A schema of that name without a tenant row: the claim fails and the pool keeps its schema.
		mustExec(t, db, `CREATE SCHEMA taken`)
		if err := e.CreateTenant(ctx, "taken"); !errors.Is(err, schemaset.ErrTenantExists) {
			t.Errorf("CreateTenant over an existing schema = %v, want ErrTenantExists", err)
		}
		if got := pooled(t, db); len(got) != 1 || got[rest] != before[rest] {
			t.Errorf("a failed claim changed the pool: %v", got)
		}
		if got := leftovers(t, db, "taken"); !slices.Equal(got, []string{"schema"}) {
			t.Errorf("a failed claim left %v", got)
		}
	})
	t.Run("drop", func(t *testing.T) {
		if err := e.DropTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if got := leftovers(t, db, "acme"); len(got) > 0 {
			t.Errorf("dropping the claimed tenant left %v", got)
		}
		if got := pooled(t, db); len(got) != 1 {
			t.Errorf("the drop touched the pool: %v", got)
		}
	})
}

// TestPoolFallback: with the pool empty, or its schemas behind the apps, a creation clones the
// reference instead; a behind pooled schema is never handed out, and the next fill replaces it.
func TestPoolFallback(t *testing.T) {
	ctx := context.Background()
	db, e := seededPool(t, 1)
	if err := e.CreateTenant(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if got := pooled(t, db); len(got) != 0 {
		t.Fatalf("pool after one claim from a pool of 1: %v", got)
	}
	if err := e.CreateTenant(ctx, "second"); err != nil { // empty: clone
		t.Fatal(err)
	}
	if _, err := e.FillPool(ctx); err != nil {
		t.Fatal(err)
	}
	behind := pooled(t, db)
	mustExec(t, db, `UPDATE pgschemas_pool SET fingerprint = 'an older one'`)
	if err := e.CreateTenant(ctx, "third"); err != nil { // behind: clone
		t.Fatal(err)
	}
	for name, oid := range behind {
		if got := pooled(t, db); got[name] != oid {
			t.Fatalf("the behind pooled schema %s was claimed: pool now %v", name, got)
		}
	}
	for _, name := range []string{"first", "second", "third"} {
		if src, got := describe(t, db, "sample", name), describe(t, db, name, "sample"); !slices.Equal(src, got) {
			t.Errorf("%s differs from the reference:\n%s", name, diffLines(src, got))
		}
		if got := strs(t, db, fmt.Sprintf(`SELECT body FROM %s.notes`, name)); !slices.Equal(got, []string{"welcome"}) {
			t.Errorf("%s's notes: %q", name, got)
		}
	}
	fill, err := e.FillPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fill.Dropped) != 1 || len(fill.Filled) != 1 || fill.Ready != 1 || behind[fill.Dropped[0]] == 0 {
		t.Errorf("FillPool over a behind schema: %+v; want it dropped and one filled", fill)
	}
	if got := poolSchemas(t, db); len(got) != 1 || got[0] != fill.Filled[0] {
		t.Errorf("pooled schemas in the catalog: %v, want %v", got, fill.Filled)
	}
}

// TestPoolConcurrentClaims: 16 concurrent creations against a pool of 8 make 8 claims and 8
// clones; every tenant is correct and distinct, no pooled schema is handed out twice, and the
// pool is empty after.
func TestPoolConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	db, e := seededPool(t, 8)
	before := pooled(t, db)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range 16 {
		wg.Go(func() {
			errs[i] = e.CreateTenant(ctx, fmt.Sprintf("c%02d", i), schemaset.Domain{Domain: fmt.Sprintf("c%02d.example.test", i)})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	fromPool := map[int64]string{}
	for name, oid := range before {
		fromPool[oid] = name
	}
	claims, seen := 0, map[int64]bool{}
	for i := range 16 {
		name := fmt.Sprintf("c%02d", i)
		oid := schemaOID(t, db, name)
		if seen[oid] {
			t.Errorf("%s shares its schema with another tenant", name)
		}
		seen[oid] = true
		if fromPool[oid] != "" {
			claims++
		}
		if src, got := describe(t, db, "sample", name), describe(t, db, name, "sample"); !slices.Equal(src, got) {
			t.Errorf("%s differs from the reference:\n%s", name, diffLines(src, got))
		}
		if got := strs(t, db, fmt.Sprintf(`SELECT u.email || ' ' || n.body FROM %s.notes n JOIN %s.users u ON u.id = n.author_id`, name, name)); !slices.Equal(got, []string{"seed@example.test welcome"}) {
			t.Errorf("%s's rows: %q", name, got)
		}
		if refs := pointsInto(t, db, name); len(refs) > 0 {
			t.Errorf("%s points into the pool: %q", name, refs)
		}
	}
	if claims != 8 {
		t.Errorf("%d creations claimed a pooled schema, want 8 (and 8 clones)", claims)
	}
	if got := append(poolSchemas(t, db), strs(t, db, `SELECT schema_name FROM pgschemas_pool`)...); len(got) > 0 {
		t.Errorf("the pool is not empty after 16 creations: %v", got)
	}
	if got := strs(t, db, `SELECT count(*)::text FROM pgschemas_tenant t JOIN pgschemas_domain d ON d.tenant = t.schema_name AND d.is_primary`); !slices.Equal(got, []string{"16"}) {
		t.Errorf("tenants with their domain: %v, want 16", got)
	}
}

// TestPoolRefusesEmbeddedName: a reference whose objects name its own schema as text (a function
// body that qualifies a table, a function's SET search_path, a view, a check constraint and a
// trigger argument that spell the name) is refused, with every such object named and nothing
// pooled; what refers by oid (a view over a qualified table, sequences) is not reported. A copy
// that spells a pooled schema's name is refused too, and a safe reference is pooled.
func TestPoolRefusesEmbeddedName(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	mustApply(t, schemaset.New(sampleSet(t, nil), db, schemaset.Options{}), schemaset.ApplyOptions{})
	mustExec(t, db, `SET search_path = sample, public;
		CREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM sample.notes $$;
		CREATE FUNCTION pathy() RETURNS int LANGUAGE sql SET search_path = sample, public AS $$ SELECT 1 $$;
		CREATE FUNCTION safe() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM notes $$;
		CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
		CREATE TRIGGER notes_stamp BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION stamp('SAMPLE.notes');
		CREATE VIEW named AS SELECT 'sample.notes'::text AS t;
		CREATE VIEW by_oid AS SELECT id FROM sample.notes;
		ALTER TABLE settings ADD CONSTRAINT settings_where CHECK (value <> 'sample');
		RESET search_path`)
	e := schemaset.New(sampleSet(t, poolEdits(t, 2, nil)), db, schemaset.Options{})
	_, err := e.FillPool(ctx)
	if !errors.Is(err, schemaset.ErrPoolUnsafe) {
		t.Fatalf("FillPool = %v, want ErrPoolUnsafe", err)
	}
	for _, want := range []string{"function note_count()", "function pathy()", "view named", "constraint settings_where on settings",
		"trigger notes_stamp on notes", `reference "sample"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	for _, not := range []string{"safe", "by_oid", "users", "function stamp"} {
		if strings.Contains(err.Error(), not) {
			t.Errorf("the error names %q, which is safe: %v", not, err)
		}
	}
	if got := append(poolSchemas(t, db), strs(t, db, `SELECT schema_name FROM pgschemas_pool`)...); len(got) > 0 {
		t.Errorf("a refused fill pooled %v", got)
	}
	rep, err := e.Apply(ctx, []schemaset.Target{{Schema: "sample", Kind: schemaset.KindReference}}, schemaset.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pool == nil || !errors.Is(rep.Pool.Err, schemaset.ErrPoolUnsafe) || !errors.Is(rep.Err(), schemaset.ErrPoolUnsafe) {
		t.Errorf("apply with an unsafe reference: pool %+v, err %v; want ErrPoolUnsafe", rep.Pool, rep.Err())
	}

	// Safe now, but for a body that spells a pooled schema's name: each copy is checked too.
	mustExec(t, db, `DROP FUNCTION sample.note_count(), sample.pathy(); DROP TRIGGER notes_stamp ON sample.notes;
		DROP VIEW sample.named; ALTER TABLE sample.settings DROP CONSTRAINT settings_where;
		CREATE FUNCTION sample.sneaky() RETURNS text LANGUAGE sql AS $$ SELECT 'pgschemas_pool_1' $$`)
	_, err = e.FillPool(ctx)
	if !errors.Is(err, schemaset.ErrPoolUnsafe) || !strings.Contains(err.Error(), `the copy of "sample" names a pooled schema as text in: function sneaky()`) {
		t.Errorf("FillPool with a body naming a pooled schema = %v, want ErrPoolUnsafe naming sneaky()", err)
	}
	if got := append(poolSchemas(t, db), strs(t, db, `SELECT schema_name FROM pgschemas_pool`)...); len(got) > 0 {
		t.Errorf("a refused copy was pooled: %v", got)
	}
	mustExec(t, db, `DROP FUNCTION sample.sneaky()`)
	if fill, err := e.FillPool(ctx); err != nil || len(fill.Filled) != 2 {
		t.Errorf("FillPool once the reference is safe: %+v, %v", fill, err)
	}
}

// TestPoolApplyKeepsCurrent: an apply that changes the apps brings the reference forward, drops
// the pooled schemas that fell behind and fills new ones at the new state; until then, a
// creation is refused rather than handed a behind pooled schema.
func TestPoolApplyKeepsCurrent(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	db.SetMaxOpenConns(10)
	e := schemaset.New(sampleSet(t, poolEdits(t, 2, nil)), db, schemaset.Options{})
	rep := mustApply(t, e, schemaset.ApplyOptions{})
	if rep.Pool == nil || len(rep.Pool.Filled) != 2 || rep.Pool.Ready != 2 {
		t.Fatalf("the first apply's pool: %+v, want 2 filled", rep.Pool)
	}
	old := pooled(t, db)
	again := mustApply(t, e, schemaset.ApplyOptions{})
	if again.Pool == nil || len(again.Pool.Filled)+len(again.Pool.Dropped) != 0 || again.Pool.Ready != 2 {
		t.Errorf("an apply with nothing to do changed the pool: %+v", again.Pool)
	}
	e2 := schemaset.New(sampleSet(t, poolEdits(t, 2, addPinned(t))), db, schemaset.Options{})
	if err := e2.CreateTenant(ctx, "early"); !errors.Is(err, schemaset.ErrReferenceBehind) {
		t.Fatalf("CreateTenant before the apply = %v, want ErrReferenceBehind (the pool is behind too)", err)
	}
	if got := pooled(t, db); !maps.Equal(got, old) {
		t.Fatalf("a refused creation changed the pool: %v, was %v", got, old)
	}
	rep = mustApply(t, e2, schemaset.ApplyOptions{})
	if rep.Pool == nil || len(rep.Pool.Dropped) != 2 || len(rep.Pool.Filled) != 2 {
		t.Fatalf("the apply's pool: %+v, want the 2 old dropped and 2 filled", rep.Pool)
	}
	now := pooled(t, db)
	for name := range now {
		if !slices.Contains(columns(t, db, name), "notes.pinned") {
			t.Errorf("pooled %s lacks the column the apply added", name)
		}
	}
	for name, oid := range old {
		if now[name] == oid {
			t.Errorf("the behind pooled schema %s is still pooled", name)
		}
	}
	if err := e2.CreateTenant(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	if oid := schemaOID(t, db, "late"); !slices.Contains(slices.Collect(maps.Values(now)), oid) {
		t.Error("after the apply, the creation did not claim a pooled schema")
	}
	if !slices.Contains(columns(t, db, "late"), "notes.pinned") {
		t.Error("the claimed tenant lacks the column the apps added")
	}
	// The old engine, whose apps are behind the database's, neither claims nor drops.
	if err := e.CreateTenant(ctx, "stale"); !errors.Is(err, schemaset.ErrReferenceBehind) {
		t.Errorf("CreateTenant by the old engine = %v, want ErrReferenceBehind", err)
	}
	if _, err := e.FillPool(ctx); !errors.Is(err, schemaset.ErrReferenceBehind) {
		t.Errorf("FillPool by the old engine = %v, want ErrReferenceBehind", err)
	}
	if got := pooled(t, db); len(got) != 1 {
		t.Errorf("the old engine changed the pool: %v", got)
	}
}

// TestPoolRefillInBackground: the background refiller fills the pool at start and again after
// each claim, and stops when its context ends.
func TestPoolRefillInBackground(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	db.SetMaxOpenConns(10)
	mustApply(t, schemaset.New(sampleSet(t, nil), db, schemaset.Options{}), schemaset.ApplyOptions{})
	e := schemaset.New(sampleSet(t, poolEdits(t, 2, nil)), db, schemaset.Options{})
	rctx, cancel := context.WithCancel(ctx)
	wait := e.RefillInBackground(rctx)
	defer func() { cancel(); wait() }()
	ready := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			st, err := e.PoolStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Ready == n && len(st.Schemas) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pool has %d ready of %d; want %d", st.Ready, len(st.Schemas), n)
			}
		}
	}
	ready(2)
	for _, name := range []string{"one", "two", "three"} {
		before := pooled(t, db)
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
		if oid := schemaOID(t, db, name); !slices.Contains(slices.Collect(maps.Values(before)), oid) {
			t.Errorf("%s was not claimed from the pool %v", name, before)
		}
		ready(2)
	}
	// Ended, it returns: wait (which the deferred call repeats) does not block for good.
	cancel()
	stopped := make(chan struct{})
	go func() { wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("the refiller did not stop after its context ended")
	}
}

// TestCreateTenantWithPoolBeforeReference: with a pool configured and no reference yet (no apply
// has created it), CreateTenant builds the tenant from the apps at once. It used to compute the
// apps' state inside its own transaction, whose new tenant row the materialised apps' foreign key
// to pgschemas_tenant waited on until the lock timeout, and then failed.
func TestCreateTenantWithPoolBeforeReference(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{PoolSize: 1, LockTimeout: 2 * time.Second})
	mustApplyOnly(t, e, "public", "www", "blog")
	start := time.Now()
	if err := e.CreateTenant(ctx, "early", schemaset.Domain{Domain: "early.example.test"}); err != nil {
		t.Fatalf("CreateTenant before the reference, with a pool: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	}
	if got, want := columns(t, db, "early"), columns(t, db, "www"); !slices.Contains(got, "notes.id") || slices.Equal(got, want) {
		t.Errorf("early has columns %v", got)
	}
	if exists(t, db, "sample") {
		t.Errorf("CreateTenant created the reference")
	}
}
