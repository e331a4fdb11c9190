package schemaset_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/schemaset"
)

// addPinned is the sample with one more column in the tenant app's notes table.
func addPinned(t testing.TB) map[string]string {
	notes := string(mustRead(t, "apps/tenant/notes.sql"))
	return map[string]string{"apps/tenant/notes.sql": strings.Replace(notes, "body       text NOT NULL,",
		"body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,", 1)}
}

// tenantsSetUp applies the sample and creates n tenants t00, t01, ...
func tenantsSetUp(t *testing.T, n int) (*sql.DB, []string) {
	t.Helper()
	ctx := context.Background()
	db := fresh(t)
	db.SetMaxOpenConns(8)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	var names []string
	for i := range n {
		name := fmt.Sprintf("t%02d", i)
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return db, names
}

// TestSharedPlanAndDriftFallback: tenants recorded at one fingerprint take one shared plan; one
// altered by hand falls back to its own diff and ends up right too.
func TestSharedPlanAndDriftFallback(t *testing.T) {
	ctx := context.Background()
	db, names := tenantsSetUp(t, 6)
	// Drift: t03 lost its notes table, so the shared ALTER TABLE notes fails there.
	if _, err := db.Exec(`DROP TABLE t03.notes`); err != nil {
		t.Fatal(err)
	}
	e := schemaset.New(sampleSet(t, addPinned(t)), db, schemaset.Options{Parallel: 3})
	rep := mustRun(t, e, schemaset.Selector{Dynamic: true}, schemaset.ApplyOptions{}, false)
	targets := rep.Targets()
	var shared, fellBack []string
	for _, r := range rep.Results {
		if r.Outcome != schemaset.OutcomeApplied {
			t.Errorf("%s: %s", r.Schema, r.Outcome)
		}
		if r.Shared {
			shared = append(shared, r.Schema)
		}
		if r.FellBack {
			fellBack = append(fellBack, r.Schema)
		}
	}
	// t00 represents the group; t01..t05 replay its plan, except t03, which falls back.
	if !slices.Equal(shared, []string{"t01", "t02", "t04", "t05"}) || !slices.Equal(fellBack, []string{"t03"}) {
		t.Errorf("shared = %v, fell back = %v; want t01 t02 t04 t05 shared and t03 fell back", shared, fellBack)
	}
	for _, name := range names {
		if !slices.Contains(columns(t, db, name), "notes.pinned") {
			t.Errorf("%s lacks notes.pinned", name)
		}
	}
	// Everyone is now exactly the desired state, as an inspection of each confirms.
	st, err := e.Status(ctx, targets, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != schemaset.StateUpToDate {
			t.Errorf("%s: %s %v", s.Schema, s.State, s.Changes)
		}
	}
}

// TestLockedTenantIsRetriedAndReported: a tenant whose table live traffic holds locked is retried
// with backoff; when the lock stays, it fails with the lock timeout, and the others complete.
func TestLockedTenantIsRetriedAndReported(t *testing.T) {
	ctx := context.Background()
	db, _ := tenantsSetUp(t, 3)
	// Live traffic on t01 holds a lock that ALTER TABLE needs, for longer than all the retries.
	blocker, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	if _, err := blocker.Exec(`LOCK TABLE t01.notes IN ACCESS SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	e := schemaset.New(sampleSet(t, addPinned(t)), db, schemaset.Options{LockTimeout: 50 * time.Millisecond, Parallel: 2})
	targets, _ := e.Select(ctx, schemaset.Selector{Dynamic: true})
	rep, err := e.Apply(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		switch r.Schema {
		case "t01":
			if r.Outcome != schemaset.OutcomeFailed || r.Retries != 3 || !strings.Contains(fmt.Sprint(r.Err), "55P03") {
				t.Errorf("t01: %s after %d retries (%v); want failed on the lock timeout after 3 retries", r.Outcome, r.Retries, r.Err)
			}
		default:
			if r.Outcome != schemaset.OutcomeApplied {
				t.Errorf("%s: %s %v", r.Schema, r.Outcome, r.Err)
			}
		}
	}
	// Once the traffic is gone, a rerun finishes t01 and only t01.
	blocker.Rollback()
	rep, err = e.Apply(ctx, targets, schemaset.ApplyOptions{})
	if err != nil || rep.Err() != nil {
		t.Fatal(err, rep.Err())
	}
	if got := rep.Count(schemaset.OutcomeApplied); got != 1 {
		t.Errorf("rerun applied %d schemas, want 1 (t01)", got)
	}
}

// TestInterruptedApplyResumes: an apply cancelled half way leaves each tenant before or after,
// never between, and a rerun completes the rest without redoing the finished ones.
func TestInterruptedApplyResumes(t *testing.T) {
	db, names := tenantsSetUp(t, 12)
	e := schemaset.New(sampleSet(t, addPinned(t)), db, schemaset.Options{Parallel: 2})
	ctx, cancel := context.WithCancel(context.Background())
	targets, _ := e.Select(ctx, schemaset.Selector{Dynamic: true})
	var done atomic.Int32 // OnResult runs on the workers
	rep, err := e.Apply(ctx, targets, schemaset.ApplyOptions{ContinueOnError: true, OnResult: func(r schemaset.Result) {
		if done.Add(1) == 4 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	applied := map[string]bool{}
	for _, r := range rep.Results {
		if r.Outcome == schemaset.OutcomeApplied {
			applied[r.Schema] = true
		}
	}
	if len(applied) == 0 || len(applied) == len(names) {
		t.Fatalf("applied %d of %d before the cancel took effect; want some but not all", len(applied), len(names))
	}
	fp := e.Set().Fingerprint(schemaset.Target{Schema: "t00", Kind: schemaset.KindDynamic})
	for _, name := range names {
		has := slices.Contains(columns(t, db, name), "notes.pinned")
		recorded := len(strs(t, db, `SELECT 1 FROM pgschemas_schema_state WHERE schema_name = $1 AND fingerprint = $2`, name, fp)) == 1
		if has != recorded || has != applied[name] {
			t.Errorf("%s: column %v, record %v, reported applied %v: want all three equal", name, has, recorded, applied[name])
		}
	}
	rep, err = e.Apply(context.Background(), targets, schemaset.ApplyOptions{})
	if err != nil || rep.Err() != nil {
		t.Fatal(err, rep.Err())
	}
	for _, r := range rep.Results {
		want := schemaset.OutcomeApplied
		if applied[r.Schema] {
			want = schemaset.OutcomeUpToDate
		}
		if r.Outcome != want {
			t.Errorf("rerun: %s %s, want %s", r.Schema, r.Outcome, want)
		}
	}
}

// TestSetWithoutPublicApps: public with no apps wants nothing, and the set still applies.
func TestSetWithoutPublicApps(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(scaleSet(t, ""), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "solo"); err != nil {
		t.Fatal(err)
	}
	if got := len(columns(t, db, "solo")); got != 39 {
		t.Errorf("solo has %d columns, want 39 (10 tables)", got)
	}
}

// TestPlanSharesRepresentativePlan: Plan, like Apply, inspects one representative of the tenants
// recorded at one fingerprint and gives the others its plan with their own name, and changes
// nothing.
func TestPlanSharesRepresentativePlan(t *testing.T) {
	db, names := tenantsSetUp(t, 4)
	e := schemaset.New(sampleSet(t, addPinned(t)), db, schemaset.Options{})
	rep := mustRun(t, e, schemaset.Selector{Dynamic: true}, schemaset.ApplyOptions{}, true)
	for _, r := range rep.Results {
		if r.Outcome != schemaset.OutcomePlanned || r.Shared != (r.Schema != "t00") || r.FellBack {
			t.Errorf("%s: %s, shared %v, fell back %v; want planned, shared but for t00", r.Schema, r.Outcome, r.Shared, r.FellBack)
		}
		if want := `ALTER TABLE "` + r.Schema + `"."notes" ADD COLUMN "pinned"`; len(r.Statements) != 1 || !strings.HasPrefix(r.Statements[0], want) {
			t.Errorf("%s: statements %q, want one starting %s", r.Schema, r.Statements, want)
		}
	}
	for _, name := range names {
		if slices.Contains(columns(t, db, name), "notes.pinned") {
			t.Errorf("%s has notes.pinned after a plan", name)
		}
	}
}

// TestNoopSkipsDriftVerifyFindsIt: an apply with nothing to do trusts the records and inspects
// nothing, so it does not see an index dropped by hand; with Verify it inspects every tenant and
// puts the index back on that one alone.
func TestNoopSkipsDriftVerifyFindsIt(t *testing.T) {
	db, _ := tenantsSetUp(t, 3)
	index := func() bool {
		return len(strs(t, db, `SELECT 1 FROM pg_indexes WHERE schemaname = 't01' AND indexname = 'notes_author_idx'`)) == 1
	}
	if !index() {
		t.Fatal("t01 has no index notes_author_idx to drop")
	}
	if _, err := db.Exec(`DROP INDEX t01.notes_author_idx`); err != nil {
		t.Fatal(err)
	}
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	rep := mustRun(t, e, schemaset.Selector{Dynamic: true}, schemaset.ApplyOptions{}, false)
	if got := rep.Count(schemaset.OutcomeUpToDate); got != 3 || index() {
		t.Fatalf("no-op apply: %d up to date, index back %v; want 3 and false", got, index())
	}
	rep = mustRun(t, e, schemaset.Selector{Dynamic: true}, schemaset.ApplyOptions{Verify: true}, false)
	for _, r := range rep.Results {
		want := schemaset.OutcomeUpToDate
		if r.Schema == "t01" {
			want = schemaset.OutcomeApplied
		}
		if r.Outcome != want || r.Shared {
			t.Errorf("verify: %s %s (shared %v), want %s, own inspection", r.Schema, r.Outcome, r.Shared, want)
		}
	}
	if !index() {
		t.Error("verify did not put notes_author_idx back on t01")
	}
}

// TestStaleRecordIsApplied: a tenant whose record holds another fingerprint than its group is
// inspected on its own, and its record renewed; the others stay up to date.
func TestStaleRecordIsApplied(t *testing.T) {
	db, _ := tenantsSetUp(t, 3)
	if _, err := db.Exec(`UPDATE pgschemas_schema_state SET fingerprint = 'stale' WHERE schema_name = 't02'`); err != nil {
		t.Fatal(err)
	}
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	rep := mustRun(t, e, schemaset.Selector{Dynamic: true}, schemaset.ApplyOptions{}, false)
	for _, r := range rep.Results {
		if r.Outcome != schemaset.OutcomeUpToDate || r.Shared {
			t.Errorf("%s: %s (shared %v), want up to date", r.Schema, r.Outcome, r.Shared)
		}
	}
	fp := e.Set().Fingerprint(schemaset.Target{Schema: "t02", Kind: schemaset.KindDynamic})
	if got := strs(t, db, `SELECT fingerprint FROM pgschemas_schema_state WHERE schema_name = 't02'`); len(got) != 1 || got[0] != fp {
		t.Errorf("t02's record = %q, want the current fingerprint", got)
	}
	st, err := e.Status(context.Background(), rep.Targets(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != schemaset.StateUpToDate {
			t.Errorf("%s: %s after the apply", s.Schema, s.State)
		}
	}
}

// TestPlanReleasesTenantLocks: a plan runs in one transaction, but each dynamic tenant's part is
// undone once planned, with its locks, so that a plan (or status --verify) of thousands of
// tenants never holds the tables of more than one.
func TestPlanReleasesTenantLocks(t *testing.T) {
	ctx := context.Background()
	db, names := tenantsSetUp(t, 4)
	e := schemaset.New(sampleSet(t, addPinned(t)), db, schemaset.Options{})
	targets, err := e.Select(ctx, schemaset.Selector{Dynamic: true})
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	rep, err := e.Plan(ctx, targets, schemaset.ApplyOptions{Verify: true, OnResult: func(r schemaset.Result) {
		// OnResult runs in the plan, with its transaction open.
		held = append(held, strs(t, db, `SELECT DISTINCT n.nspname || '.' || c.relname FROM pg_locks l
			JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE l.pid <> pg_backend_pid() AND n.nspname = ANY ($1)`, names)...)
	}})
	if err != nil || rep.Err() != nil {
		t.Fatal(err, rep.Err())
	}
	if got := rep.Count(schemaset.OutcomePlanned); got != len(names) {
		t.Errorf("%d planned, want %d", got, len(names))
	}
	if len(held) > 0 {
		t.Errorf("the plan still held locks on planned tenants: %v", held)
	}
}
