package schemaset

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// A plan (and status, which plans) changes no existing schema, whatever the apps' steps do: a
// schema's pending steps run in a scratch copy of its structure, never in the schema, and the copy
// is diffed against the desired state as the schema would be. A rollback alone would not do: it
// leaves what the steps did outside the transaction (a sequence's nextval), and until it comes, the
// steps' locks on the schema's tables (an ALTER TABLE's, which stops the tenant's traffic).

// scratchNames names the scratch schemas of one run and remembers them: the scratch prefix, a
// random number per run, so that two processes at once never wait on each other's uncommitted
// CREATE SCHEMA of the same name, and a counter.
type scratchNames struct {
	run  uint64
	made []string
}

func newScratchNames() *scratchNames { return &scratchNames{run: rand.Uint64()} }

// next returns a new name.
func (s *scratchNames) next() string {
	n := fmt.Sprintf("%s%x_%d", scratchPrefix, s.run, len(s.made))
	s.made = append(s.made, n)
	return n
}

// planTx is the transaction of a plan, rolled back at the end, with the scratch schemas made in
// it (dropped on their own if a statement ended it) and public's scratch copy after its steps.
type planTx struct {
	*pgTx
	scratch *scratchNames
	// public is the scratch copy of public after its pending steps, which the plan of public
	// keeps for the plans after it; "" when public's plan ran no step.
	public string
}

// planLive returns the state that a plan of t diffs against t's desired state: t as its pending
// steps would leave it, named t.Schema, with the steps that ran, and the scratch copy they ran in
// ("" when none was made).
//
// A schema with no step to run is only read, in place. Otherwise (or when it does not exist yet)
// a scratch schema stands for it: a copy of its structure (cloneStructure: no rows) or, for a new
// schema, an empty one. The steps run there, each statement checked to leave the transaction open,
// with the search path a tenant's would have: the copy, then public's copy when public's plan ran
// steps, then public. Steps are not recorded.
func (e *Engine) planLive(ctx context.Context, p *planTx, drv migrate.Driver, t Target, rec record) (live *schema.Schema, ran []string, scratch string, err error) {
	pending, err := e.pendingSteps(ctx, p.Tx, t, rec)
	if err != nil {
		return nil, nil, "", err
	}
	if rec.exists && !slices.ContainsFunc(pending, func(s pendingStep) bool { return s.run }) {
		live, err := e.inspect(ctx, p.Tx, drv, t.Schema)
		return live, nil, "", err
	}
	scratch = p.scratch.next()
	if _, err := p.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(scratch)); err != nil {
		return nil, nil, "", fmt.Errorf("create a scratch schema for the plan: %w", err)
	}
	if rec.exists {
		if err := e.cloneInTx(ctx, p.Tx, t.Schema, scratch, cloneStructure); err != nil {
			return nil, nil, "", fmt.Errorf("copy the structure of %q to a scratch schema to run its steps: %w", t.Schema, err)
		}
	}
	path := e.searchPath(scratch)
	if p.public != "" && t.Kind != KindPublic {
		path = e.searchPathVia(scratch, p.public)
	}
	if err := setLocal(ctx, p.Tx, "search_path", path); err != nil {
		return nil, nil, "", err
	}
	if ran, err = runPending(ctx, p.Tx, p.check, pending, ""); err != nil {
		return nil, ran, "", err
	}
	if live, err = e.inspectPath(ctx, p.Tx, drv, scratch, path); err != nil {
		return nil, ran, "", err
	}
	live.Name = t.Schema
	if p.public != "" && t.Kind != KindPublic {
		renameRefs(live, p.public, "public")
	}
	return live, ran, scratch, nil
}

// liveState runs t's pending steps and returns the state to diff against t's desired state, with
// the steps that ran. An apply (plan nil) creates t when it is missing, runs and records the steps
// in t, inside tx, and inspects t. A plan reads t, or runs the steps in a scratch copy (planLive),
// whose name it returns.
func (e *Engine) liveState(ctx context.Context, tx *pgTx, drv migrate.Driver, plan *planTx, t Target, rec record) (live *schema.Schema, ran []string, scratch string, err error) {
	if plan != nil {
		return e.planLive(ctx, plan, drv, t, rec)
	}
	if !rec.exists {
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(t.Schema)); err != nil {
			return nil, nil, "", err
		}
	}
	if err := setLocal(ctx, tx.Tx, "search_path", e.searchPath(t.Schema)); err != nil {
		return nil, nil, "", err
	}
	if ran, err = e.runSteps(ctx, tx.Tx, tx.check, t, rec); err != nil {
		return nil, ran, "", err
	}
	live, err = e.inspect(ctx, tx.Tx, drv, t.Schema)
	return live, ran, "", err
}
