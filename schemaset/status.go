package schemaset

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/driver"
)

// State is where a schema stands against its desired state.
type State string

const (
	// StateUpToDate: the schema was last brought to the current desired state (and, when verified,
	// its diff is empty).
	StateUpToDate State = "up_to_date"
	// StatePending: the apps changed since the schema was last applied, or it was never applied.
	StatePending State = "pending"
	// StateMissing: the schema does not exist.
	StateMissing State = "missing"
	// StateDrifted: the record says up to date, but inspection found differences (only with verify).
	StateDrifted State = "drifted"
)

// SchemaStatus is the status of one schema.
type SchemaStatus struct {
	Target
	State State `json:"state"`
	// Changes are the statements an apply would run; filled only when verifying.
	Changes []string `json:"changes,omitempty"`
	// Node is the Citus node (host:port) that holds the schema, on a Citus coordinator (citus.go).
	Node string `json:"node,omitempty"`
}

// Status reports each target's state from the records, in one query. With verify, it also inspects
// each existing schema and diffs it, which finds drift (changes made by hand) but costs one
// inspection per schema.
func (e *Engine) Status(ctx context.Context, targets []Target, verify bool) ([]SchemaStatus, error) {
	if err := e.ensureRegistry(ctx); err != nil {
		return nil, err
	}
	records, err := e.records(ctx, targets)
	if err != nil {
		return nil, err
	}
	out := make([]SchemaStatus, len(targets))
	var inspect []Target
	for i, t := range targets {
		rec := records[t.Schema]
		out[i] = SchemaStatus{Target: t, State: StatePending}
		switch {
		case !rec.exists:
			out[i].State = StateMissing
		case rec.fingerprint == e.set.Fingerprint(t):
			out[i].State = StateUpToDate
		}
		if verify && rec.exists {
			inspect = append(inspect, t)
		}
	}
	if err := e.citusNodes(ctx, out); err != nil {
		return nil, err
	}
	if len(inspect) == 0 {
		return out, nil
	}
	report, err := e.Plan(ctx, inspect, ApplyOptions{Verify: true, AllowDestructive: true, ContinueOnError: true})
	if err != nil {
		return nil, err
	}
	byName := map[string]Result{}
	for _, r := range report.Results {
		byName[r.Schema] = r
	}
	for i := range out {
		r, ok := byName[out[i].Schema]
		if !ok {
			continue
		}
		if r.Err != nil {
			return nil, r.Err
		}
		out[i].Changes = r.Statements
		if len(r.Statements) > 0 && out[i].State == StateUpToDate {
			out[i].State = StateDrifted
		}
	}
	return out, nil
}

// ForEach runs fn once for each target, at most parallel at a time (0 means the engine's
// Parallel), with ctx carrying the target's schema (driver.WithSchema) so that a *sql.DB opened
// with the pgschemas driver runs in it. public gets a ctx without a schema, which the driver runs in
// public. Every target runs even when some fail; the error joins one *TargetError per failure.
func (e *Engine) ForEach(ctx context.Context, targets []Target, parallel int, fn func(ctx context.Context, t Target) error) error {
	if parallel <= 0 {
		parallel = e.opts.parallel()
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, t := range targets {
		g.Go(func() error {
			tctx := gctx
			if t.Kind != KindPublic {
				tctx = driver.WithSchema(gctx, t.Schema)
			}
			if err := fn(tctx, t); err != nil {
				mu.Lock()
				errs = append(errs, &TargetError{Target: t, Err: err})
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("schemaset: for each: %w", err)
	}
	return errors.Join(errs...)
}
