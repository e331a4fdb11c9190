package schemaset_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// addPinnedIndexed is the sample with one more column in the tenant app's notes table, and an
// index on it: a change of two statements, so that a tenant caught between them would show.
func addPinnedIndexed(t testing.TB) map[string]string {
	edits := addPinned(t)
	edits["apps/tenant/notes.sql"] += "\nCREATE INDEX notes_pinned_idx ON notes (pinned);\n"
	return edits
}

// TestServerRestartDuringApply crash-restarts the server (pg_ctl restart -m immediate, on a
// throwaway server of the test's own) when about half of 80 tenants have taken a change of a
// column and an index. The apply must return an error, neither hang nor succeed; every tenant must
// then be wholly before or wholly after (the column, the index and the recorded fingerprint
// agree); and a rerun must bring every tenant current, applying only the ones that were not done.
func TestServerRestartDuringApply(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server of its own and creates 80 tenants")
	}
	const n = 80
	ctx := context.Background()
	c := pgtest.NewCluster(t)
	open := func() *sql.DB {
		db, err := sql.Open("pgx", c.DSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(6)
		return db
	}
	db := open()
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	var names []string
	for i := range n {
		name := fmt.Sprintf("r%02d", i)
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}

	changed := sampleSet(t, addPinnedIndexed(t))
	fp := changed.Fingerprint(schemaset.Target{Schema: names[0], Kind: schemaset.KindDynamic})
	e = schemaset.New(changed, db, schemaset.Options{Parallel: 2})
	targets, err := e.Select(ctx, schemaset.Selector{Dynamic: true})
	if err != nil {
		t.Fatal(err)
	}
	var (
		done       atomic.Int32 // OnResult runs on the workers
		restart    sync.Once
		restarted  = make(chan error, 1)
		applyCtx   context.Context
		cancel     context.CancelFunc
		restartErr error
	)
	// A hang would show as this deadline, which the assertions below tell from an error.
	applyCtx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	rep, err := e.Apply(applyCtx, targets, schemaset.ApplyOptions{OnResult: func(r schemaset.Result) {
		if r.Outcome == schemaset.OutcomeApplied && done.Add(1) == n/2 {
			restart.Do(func() {
				// Not on the worker: the apply goes on while the server goes down under it.
				go func() { restarted <- c.Restart(context.Background(), "immediate") }()
			})
		}
	}})
	if applyCtx.Err() != nil {
		t.Fatalf("the apply ran into its 3-minute deadline: it hung on the restart (%v)", err)
	}
	if err == nil {
		err = rep.Err()
	}
	if err == nil {
		t.Fatalf("the apply succeeded over a server restart (%d applied before it)", done.Load())
	}
	t.Logf("the apply failed as it should: %v", err)
	select {
	case restartErr = <-restarted:
	case <-time.After(2 * time.Minute):
		t.Fatal("the restart did not finish")
	}
	if restartErr != nil {
		t.Fatal(restartErr)
	}

	// After the crash: each tenant wholly before or after. A commit the server acknowledged may
	// still be lost (the throwaway server runs with synchronous_commit off), so the count of those
	// after is read from the catalog, not from the results.
	db2 := open()
	after := 0
	for _, name := range names {
		hasCol := slices.Contains(columns(t, db2, name), "notes.pinned")
		hasIdx := len(strs(t, db2, `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname = 'notes_pinned_idx'`, name)) == 1
		recorded := len(strs(t, db2, `SELECT schema_name FROM pgschemas_schema_state WHERE schema_name = $1 AND fingerprint = $2`, name, fp)) == 1
		if hasCol != hasIdx || hasCol != recorded {
			t.Errorf("%s is between: column %v, index %v, fingerprint recorded %v", name, hasCol, hasIdx, recorded)
		}
		if recorded {
			after++
		}
	}
	t.Logf("%d of %d tenants were after the restart", after, n)
	if after == 0 || after == n {
		t.Errorf("%d of %d tenants after the restart; want some but not all", after, n)
	}

	e = schemaset.New(changed, db2, schemaset.Options{Parallel: 2})
	rep = mustRun(t, e, schemaset.Selector{Dynamic: true}, schemaset.ApplyOptions{}, false)
	if got := rep.Count(schemaset.OutcomeApplied); got != n-after {
		t.Errorf("the rerun applied %d tenants; want the %d not done", got, n-after)
	}
	st, err := e.Status(ctx, rep.Targets(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != schemaset.StateUpToDate {
			t.Errorf("%s after the rerun: %s", s.Schema, s.State)
		}
	}
	if got := len(strs(t, db2, `SELECT schema_name FROM pgschemas_schema_state WHERE kind = 'dynamic' AND fingerprint = $1`, fp)); got != n {
		t.Errorf("%d of %d tenants recorded current after the rerun", got, n)
	}
}
