package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/apps"
	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/citustest"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// citusDB returns a pool on a throwaway database of the Citus cluster (skipped without one).
func citusDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", citustest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// citusDSN returns the connection string of db's database: the cluster's, with its name.
func citusDSN(t testing.TB, db *sql.DB) string {
	t.Helper()
	var name string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return pgtest.WithParams(citustest.DSN(t), "dbname", name)
}

// distributed lists the distributed schemas, sorted.
func distributed(t testing.TB, db *sql.DB) []string {
	t.Helper()
	return strs(t, db, `SELECT schema_name::text FROM citus_schemas ORDER BY 1`)
}

// referenceTables lists public's reference tables, sorted.
func referenceTables(t testing.TB, db *sql.DB) []string {
	t.Helper()
	return strs(t, db, `SELECT logicalrelid::regclass::text FROM pg_dist_partition
		WHERE repmodel = 't' AND logicalrelid::regclass::text NOT LIKE '%.%' ORDER BY 1`)
}

func TestCitusDetectionOnPlainPostgreSQL(t *testing.T) {
	e := schemaset.New(sampleSet(t, nil), fresh(t), schemaset.Options{})
	ctx := context.Background()
	c, err := e.Citus(ctx)
	if err != nil || c != nil {
		t.Fatalf("Citus on plain PostgreSQL = %v, %v; want nil, nil", c, err)
	}
	if _, err := e.MoveTenant(ctx, "acme", "127.0.0.1:9701", schemaset.MoveOptions{}); !errors.Is(err, schemaset.ErrNotCitus) {
		t.Errorf("MoveTenant on plain PostgreSQL: %v, want ErrNotCitus", err)
	}
	if _, err := e.Rebalance(ctx, schemaset.RebalanceOptions{}); !errors.Is(err, schemaset.ErrNotCitus) {
		t.Errorf("Rebalance on plain PostgreSQL: %v, want ErrNotCitus", err)
	}
	st, err := e.Status(ctx, []schemaset.Target{{Schema: "public", Kind: schemaset.KindPublic}}, false)
	if err != nil || st[0].Node != "" {
		t.Errorf("Status on plain PostgreSQL: node %q, %v; want none", st[0].Node, err)
	}
}

// TestCitusTenantsAreDistributed applies the sample set on a Citus coordinator and makes tenants
// every way the engine does (from the apps, by clone, from the pool, Clone): each is a
// distributed schema on a worker, public's app tables are reference tables, and an added column
// reaches every tenant through plan once, apply many.
func TestCitusTenantsAreDistributed(t *testing.T) {
	citustest.SkipUnderRace(t)
	ctx := context.Background()
	db := citusDB(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	c, err := e.Citus(ctx)
	if err != nil || c == nil || len(c.Nodes) != 2 {
		t.Fatalf("Citus = %v, %v; want a coordinator with 2 worker nodes", c, err)
	}
	mustApply(t, e, schemaset.ApplyOptions{})
	if got, want := distributed(t, db), []string{"blog", "sample", "www"}; !slices.Equal(got, want) {
		t.Errorf("distributed schemas after apply = %v, want %v", got, want)
	}
	// subscriptions references pgschemas_tenant: it becomes a reference table with it.
	if got, want := referenceTables(t, db), []string{"pgschemas_tenant", "plans", "subscriptions"}; !slices.Equal(got, want) {
		t.Errorf("reference tables = %v, want %v", got, want)
	}
	// From the apps (no reference yet is not the case here: the reference exists, so a clone).
	for _, name := range []string{"acme", "globex"} {
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Clone(ctx, "acme", "acme_copy", true); err != nil {
		t.Fatal(err)
	}
	// From the pool: a claim renames a distributed schema, which Citus allows.
	pooled := schemaset.New(sampleSet(t, nil), db, schemaset.Options{PoolSize: 1})
	if _, err := pooled.FillPool(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pooled.CreateTenant(ctx, "initech"); err != nil {
		t.Fatal(err)
	}
	// From the apps: a set without a reference.
	if err := schemaset.New(noRefSet(t), db, schemaset.Options{}).CreateTenant(ctx, "hooli"); err != nil {
		t.Fatal(err)
	}
	got := distributed(t, db)
	for _, name := range []string{"acme", "globex", "acme_copy", "initech", "hooli"} {
		if !slices.Contains(got, name) {
			t.Errorf("tenant %s is not a distributed schema: %v", name, got)
		}
	}
	states, err := e.Status(ctx, mustSelect(t, e, schemaset.Selector{All: true}), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		switch {
		case s.Kind == schemaset.KindPublic && s.Node != "":
			t.Errorf("public has a node: %q", s.Node)
		case s.Kind != schemaset.KindPublic && !slices.Contains(c.Nodes, s.Node):
			t.Errorf("%s %s is on node %q, want one of the workers %v", s.Kind, s.Schema, s.Node, c.Nodes)
		}
	}
	// The tenant's foreign key to a public reference table holds through the coordinator.
	if _, err := db.ExecContext(ctx, `INSERT INTO public.plans (name, price_cents) VALUES ('pro', 100)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO acme.settings (key, value, plan_id) VALUES ('k', 'v', 12345)`); err == nil {
		t.Error("acme.settings took a plan_id that public.plans does not have")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO acme.settings (key, value, plan_id) SELECT 'k', 'v', id FROM public.plans`); err != nil {
		t.Fatal(err)
	}

	// An added column and index: plan once, apply many, DDL propagated by Citus.
	edited := sampleSet(t, map[string]string{"apps/tenant/notes.sql": strings.Replace(readSample(t, "apps/tenant/notes.sql"),
		"body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,", 1) +
		"\nCREATE INDEX notes_pinned_idx ON notes (pinned);\n"})
	e2 := schemaset.New(edited, db, schemaset.Options{})
	rep := mustApply(t, e2, schemaset.ApplyOptions{})
	if n := rep.Tally(func(r schemaset.Result) bool { return r.Shared }); n == 0 {
		t.Errorf("no tenant replayed a shared plan: %v", outcomes(rep))
	}
	for _, name := range []string{"sample", "acme", "globex", "acme_copy", "initech", "hooli"} {
		if !slices.Contains(columns(t, db, name), "notes.pinned") {
			t.Errorf("%s.notes has no column pinned after apply", name)
		}
	}
	// On the worker too: the shard has the column.
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM acme.notes WHERE NOT pinned`).Scan(&n); err != nil {
		t.Errorf("query the new column through the coordinator: %v", err)
	}
	// Per-tenant statistics: Citus counts each tenant's queries once it tracks them.
	if _, err := db.ExecContext(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET citus.stat_tenants_track = ''all''', current_database()); END $$`); err != nil {
		t.Fatal(err)
	}
	tracked, err := sql.Open(driver.DriverName, citusDSN(t, db))
	if err != nil {
		t.Fatal(err)
	}
	defer tracked.Close()
	for range 3 {
		if err := tracked.QueryRowContext(driver.WithSchema(ctx, "acme"), `SELECT count(*) FROM notes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	pl, err := e2.Placements(ctx, []string{"acme", "globex"})
	if err != nil || len(pl) != 2 {
		t.Fatalf("Placements = %v, %v", pl, err)
	}
	if st := pl[0].Stats; pl[0].Schema != "acme" || st == nil || st.QueriesThisPeriod < 3 || pl[0].Bytes == 0 || !slices.Contains(c.Nodes, pl[0].Node) {
		t.Errorf("acme's placement = %+v (stats %+v); want its node, its size and at least 3 queries", pl[0], st)
	}
	if err := e2.DropTenant(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(distributed(t, db), "globex") || exists(t, db, "globex") {
		t.Error("globex is still there after DropTenant")
	}
}

// TestCitusRefusesWhatADistributedSchemaCannotHold: a tenant app whose table references a table
// that stays on the coordinator (the engine's pgschemas_domain) is refused before anything runs,
// with the file and line, by Citus itself; the same set applies on plain PostgreSQL.
func TestCitusRefusesWhatADistributedSchemaCannotHold(t *testing.T) {
	citustest.SkipUnderRace(t)
	ctx := context.Background()
	bad := map[string]string{"apps/tenant/hosts.sql": "-- A tenant's own hosts.\n\nCREATE TABLE hosts (\n  tenant text NOT NULL,\n" +
		"  domain text NOT NULL,\n  folder text NOT NULL,\n  FOREIGN KEY (domain, folder) REFERENCES pgschemas_domain (domain, folder)\n);\n"}
	db := citusDB(t)
	e := schemaset.New(sampleSet(t, bad), db, schemaset.Options{})
	targets := mustSelect(t, e, schemaset.Selector{All: true})
	_, err := e.Apply(ctx, targets, schemaset.ApplyOptions{})
	var ae *apps.Error
	if !errors.As(err, &ae) || ae.File != "tenant/hosts.sql" || ae.Line != 3 || !strings.Contains(err.Error(), "tenant/hosts.sql:3") {
		t.Fatalf("apply of an app Citus cannot distribute: %v; want an apps.Error at tenant/hosts.sql:3", err)
	}
	for _, name := range []string{"www", "blog", "sample"} {
		if exists(t, db, name) {
			t.Errorf("the refused apply created %s", name)
		}
	}
	// Plain PostgreSQL holds it.
	mustApply(t, schemaset.New(sampleSet(t, bad), fresh(t), schemaset.Options{}), schemaset.ApplyOptions{})
}

// TestCitusCloneRefusesATrigger: Citus refuses triggers on distributed tables (unless
// citus.enable_unsafe_triggers), so a clone of a schema that has one fails, names the cause, and
// leaves nothing.
func TestCitusCloneRefusesATrigger(t *testing.T) {
	citustest.SkipUnderRace(t)
	ctx := context.Background()
	db := citusDB(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	// Made on a local schema, as a step or a hand could on the reference before Citus.
	for _, q := range []string{
		`SET citus.enable_schema_based_sharding = off`,
		`CREATE SCHEMA src`,
		`CREATE TABLE src.t (id bigint PRIMARY KEY, body text)`,
		`CREATE FUNCTION src.up() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.body := upper(NEW.body); RETURN NEW; END$$`,
		`CREATE TRIGGER up BEFORE INSERT ON src.t FOR EACH ROW EXECUTE FUNCTION src.up()`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	err := e.Clone(ctx, "src", "dst", false)
	if err == nil || !strings.Contains(err.Error(), "trigger") {
		t.Fatalf("clone of a schema with a trigger on Citus: %v; want Citus' refusal of the trigger", err)
	}
	if exists(t, db, "dst") {
		t.Error("the failed clone left dst behind")
	}
}

// TestCitusMoveKeepsTheTenantWorking moves a tenant between workers while writers insert through
// the driver (pgschemas) on the coordinator: every insert that succeeded is there after the move,
// none failed, and the move reports the window in which writes waited.
func TestCitusMoveKeepsTheTenantWorking(t *testing.T) {
	ctx := context.Background()
	dsn := citustest.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO acme.notes (body) SELECT md5(i::text) FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	app, err := sql.Open(driver.DriverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	c, _ := e.Citus(ctx)
	for _, mode := range []schemaset.TransferMode{schemaset.TransferBlockWrites, schemaset.TransferAuto} {
		pl, err := e.Placements(ctx, []string{"acme"})
		if err != nil || len(pl) != 1 {
			t.Fatalf("Placements = %v, %v", pl, err)
		}
		to := c.Nodes[0]
		if pl[0].Node == to {
			to = c.Nodes[1]
		}
		var (
			stop     atomic.Bool
			wrote    atomic.Int64
			failures atomic.Int64
			wg       sync.WaitGroup
		)
		tctx := driver.WithSchema(ctx, "acme")
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if _, err := app.ExecContext(tctx, `INSERT INTO notes (body) VALUES ('during the move')`); err != nil {
						failures.Add(1)
						t.Errorf("insert during the %s move: %v", mode, err)
						return
					}
					wrote.Add(1)
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		res, err := e.MoveTenant(ctx, "acme", to, schemaset.MoveOptions{Mode: mode})
		time.Sleep(100 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatalf("move %s: %v", mode, err)
		}
		if res.From != pl[0].Node || res.To != to || res.Probes == 0 || res.WriteBlocked <= 0 || res.WriteBlocked > res.Duration+time.Second {
			t.Errorf("move %s = %+v: want from %s to %s, probes, and a write-blocking window within the move", mode, res, pl[0].Node, to)
		}
		t.Logf("move %s: %s of %d bytes, writes blocked at most %s (%d probes); %d inserts during it",
			mode, res.Duration, res.Bytes, res.WriteBlocked, res.Probes, wrote.Load())
		if after, _ := e.Placements(ctx, []string{"acme"}); len(after) != 1 || after[0].Node != to {
			t.Errorf("after the move, acme is on %v, want %s", after, to)
		}
		var n int64
		if err := app.QueryRowContext(tctx, `SELECT count(*) FROM notes WHERE body = 'during the move'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != wrote.Load() || failures.Load() > 0 {
			t.Errorf("after the %s move: %d rows written during it, %d inserts succeeded, %d failed", mode, n, wrote.Load(), failures.Load())
		}
		if _, err := app.ExecContext(tctx, `DELETE FROM notes WHERE body = 'during the move'`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.MoveTenant(ctx, "acme", "127.0.0.1:1", schemaset.MoveOptions{Mode: "fast"}); err == nil {
		t.Error("MoveTenant took the transfer mode \"fast\"")
	}
	pl, _ := e.Placements(ctx, []string{"acme"})
	if _, err := e.MoveTenant(ctx, "acme", pl[0].Node, schemaset.MoveOptions{}); !errors.Is(err, schemaset.ErrSameNode) {
		t.Errorf("move to its own node: %v, want ErrSameNode", err)
	}
	// A move waits for a running apply (it holds the apply lock exclusively): here, until its
	// context ends, having moved nothing.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(schemaset.ApplyLockKeyForTest)); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock_all()`)
	to := c.Nodes[0]
	if pl[0].Node == to {
		to = c.Nodes[1]
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := e.MoveTenant(wctx, "acme", to, schemaset.MoveOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("move during an apply: %v, want it to wait until its context ends", err)
	}
	if after, _ := e.Placements(ctx, []string{"acme"}); len(after) != 1 || after[0].Node != pl[0].Node {
		t.Errorf("a move that waited for the apply lock moved acme: %v", after)
	}
}

// TestCitusRebalance piles the tenants on one worker, then rebalances: the tenants spread over
// both workers, and progress was reported.
func TestCitusRebalance(t *testing.T) {
	citustest.SkipUnderRace(t)
	ctx := context.Background()
	db := citusDB(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	c, _ := e.Citus(ctx)
	var names []string
	for i := range 4 {
		name := fmt.Sprintf("t%d", i)
		names = append(names, name)
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	all := append([]string{"www", "blog", "sample"}, names...)
	pl, err := e.Placements(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pl {
		if p.Node != c.Nodes[0] {
			if _, err := e.MoveTenant(ctx, p.Schema, c.Nodes[0], schemaset.MoveOptions{Mode: schemaset.TransferBlockWrites, NoProbe: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	plan, err := e.Rebalance(ctx, schemaset.RebalanceOptions{DryRun: true})
	if err != nil || len(plan.Moves) == 0 {
		t.Fatalf("rebalance plan with every schema on one node: %+v, %v; want moves", plan, err)
	}
	var progress []schemaset.RebalanceProgress
	res, err := e.Rebalance(ctx, schemaset.RebalanceOptions{Mode: schemaset.TransferBlockWrites, Poll: 50 * time.Millisecond,
		OnProgress: func(p schemaset.RebalanceProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.State != "finished" || len(progress) == 0 || progress[len(progress)-1].Done != progress[len(progress)-1].Total {
		t.Errorf("rebalance = %+v, progress %v; want finished with every task done", res, progress)
	}
	pl, err = e.Placements(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	on := map[string]int{}
	for _, p := range pl {
		on[p.Node]++
	}
	if on[c.Nodes[0]] == 0 || on[c.Nodes[1]] == 0 {
		t.Errorf("after the rebalance the schemas are on %v, want both workers", on)
	}
}

func mustSelect(t testing.TB, e *schemaset.Engine, sel schemaset.Selector) []schemaset.Target {
	t.Helper()
	targets, err := e.Select(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	return targets
}

func readSample(t testing.TB, rel string) string {
	t.Helper()
	f := sampleFS(t, nil)[rel]
	if f == nil {
		t.Fatalf("no %s in the sample set", rel)
	}
	return string(f.Data)
}

func sampleConfig(t testing.TB) string { return readSample(t, "pgschemas.hcl") }

// noRefSet is the sample set without its clone reference: tenants are created from the apps.
func noRefSet(t testing.TB) *schemaset.Set {
	t.Helper()
	return sampleSet(t, map[string]string{"pgschemas.hcl": strings.Replace(sampleConfig(t), `clone_reference = "sample"`, "", 1)})
}

// TestCitusCloneObjects clones a distributed schema that holds what a reference may hold beyond
// plain tables (identity and serial columns, a sequence, a view, a function, a partitioned table,
// row level security with a policy, rows) and checks that the copy is a
// distributed schema on a worker with each of them working through the coordinator.
func TestCitusCloneObjects(t *testing.T) {
	citustest.SkipUnderRace(t)
	ctx := context.Background()
	db := citusDB(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		`SET citus.enable_schema_based_sharding = on`,
		`CREATE SCHEMA src`,
		`CREATE TABLE src.items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n bigserial, label text NOT NULL)`,
		`CREATE SEQUENCE src.tickets START 100`,
		`CREATE FUNCTION src.label_of(bigint) RETURNS text LANGUAGE sql STABLE AS 'SELECT label FROM src.items WHERE id = $1'`,
		`CREATE VIEW src.labels AS SELECT id, upper(label) AS label FROM src.items`,
		`CREATE TABLE src.events (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`,
		`CREATE TABLE src.events_2026 PARTITION OF src.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
		`ALTER TABLE src.items ENABLE ROW LEVEL SECURITY`,
		`CREATE POLICY visible ON src.items USING (label <> 'hidden')`,
		`INSERT INTO src.items (label) VALUES ('one'), ('two')`,
		`INSERT INTO src.events VALUES (1, '2026-05-05')`,
		`SELECT nextval('src.tickets')`,
		`RESET citus.enable_schema_based_sharding`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := e.Clone(ctx, "src", "dst", false); err != nil {
		t.Fatalf("clone of a distributed schema with identity, sequences, a view, a function, partitions and RLS: %v", err)
	}
	if !slices.Contains(distributed(t, db), "dst") {
		t.Fatalf("dst is not a distributed schema: %v", distributed(t, db))
	}
	for q, want := range map[string]string{
		`SELECT string_agg(label, ',' ORDER BY id) FROM dst.labels`:                   "ONE,TWO",
		`SELECT dst.label_of(2)`:                                                      "two",
		`SELECT count(*)::text FROM dst.events`:                                       "1",
		`SELECT nextval('dst.tickets')::text`:                                         "101",
		`SELECT relrowsecurity::text FROM pg_class WHERE oid = 'dst.items'::regclass`: "true",
		`SELECT count(*)::text FROM pg_policy WHERE polrelid = 'dst.items'::regclass`: "1",
		`SELECT string_agg(citus_table_type, ',') FROM (SELECT DISTINCT citus_table_type FROM citus_tables WHERE table_name::text LIKE 'dst.%') x`: "schema",
	} {
		var got string
		if err := db.QueryRowContext(ctx, q).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", q, got, err, want)
		}
	}
	// Citus copied the rows to the worker; the coordinator keeps no copy of them on disk (its
	// shell table's own file, which Citus leaves behind unless told).
	var local int64
	if err := db.QueryRowContext(ctx, `SELECT pg_relation_size('dst.items')`).Scan(&local); err != nil || local != 0 {
		t.Errorf("the coordinator keeps %d bytes of dst.items (%v), want 0", local, err)
	}
	// The identity and the serial column go on after the copied rows.
	var id, n int64
	if err := db.QueryRowContext(ctx, `INSERT INTO dst.items (label) VALUES ('three') RETURNING id, n`).Scan(&id, &n); err != nil || id != 3 || n != 3 {
		t.Errorf("insert into the clone: id %d, n %d, %v; want 3, 3", id, n, err)
	}
}
