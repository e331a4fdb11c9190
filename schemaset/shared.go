package schemaset

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/pgschemas/pgschemas/apps"
)

// Plan once, apply many.
//
// Dynamic tenants that were last brought to the same fingerprint had the same apps and steps, so
// unless someone changed one by hand, they are alike, and so are their plans. The engine inspects
// and diffs one of them, the group's representative, and replays its plan on the others: a few
// round trips per tenant instead of an inspection each (about 155 ms for 40 tables). A tenant on
// which the replay fails, whose record is missing, or whose fingerprint differs from the others,
// falls back to its own inspection and diff, and its result says so. Verify inspects everyone.
//
// Drift that the replay does not trip over (an extra column added by hand) is not found this way;
// Verify finds it.

// sentinelSchema stands in for the schema name in a shared plan. Atlas quotes every identifier it
// writes, so the quoted sentinel appears in a plan only where a schema name was qualified.
const sentinelSchema = ReservedPrefix + "plan_target"

// sharedPlan is the representative's plan, written for sentinelSchema.
type sharedPlan struct {
	steps      []string // "app/step", as runSteps returned them
	statements []string
}

// planFor makes the plan of live, whose views and functions are liveR, as if it were named
// sentinelSchema.
func (d *desired) planFor(ctx context.Context, drv migrate.Driver, live *schema.Schema, liveR routines) ([]string, error) {
	name := live.Name
	live.Name = sentinelSchema
	defer func() { live.Name = name }()
	_, plan, _, err := d.diff(ctx, drv, live, liveR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(plan.Changes))
	for _, c := range plan.Changes {
		if len(c.Args) > 0 {
			return nil, fmt.Errorf("plan statement with arguments cannot be shared: %s", c.Cmd)
		}
		out = append(out, c.Cmd)
	}
	return out, nil
}

// replay brings tenant t to the desired state with sp: its steps and statements, with the schema
// name put in, and the record, in one transaction of three round trips (BEGIN, the script,
// COMMIT). The script runs through the simple protocol, which takes several statements at once.
func (e *Engine) replay(ctx context.Context, t Target, sp *sharedPlan) Result {
	start := time.Now()
	res := Result{Target: t, Steps: sp.steps, Shared: true}
	pre := []string{
		fmt.Sprintf("SET LOCAL lock_timeout = %s", quoteLiteral(e.opts.lockTimeout())),
		fmt.Sprintf("SET LOCAL search_path = %s", e.searchPath(t.Schema)),
	}
	// After an apply every step of the tenant's apps is recorded, whether it ran or was recorded
	// as done for an app the schema did not have.
	var script []string
	for _, app := range e.set.AppsOf(t) {
		a, _ := e.set.Apps.App(app)
		for _, st := range a.Steps {
			script = append(script, fmt.Sprintf("INSERT INTO public.pgschemas_step (schema_name, app, step) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
				quoteLiteral(t.Schema), quoteLiteral(app), quoteLiteral(st.Name)))
		}
	}
	res.Statements = sp.render(t.Schema)
	script = append(append(script, res.Statements...),
		fmt.Sprintf("UPDATE public.pgschemas_schema_state SET fingerprint = %s, apps = %s, kind = %s, applied_at = now() WHERE schema_name = %s",
			quoteLiteral(e.set.Fingerprint(t)), quoteLiteral(textArray(e.set.AppsOf(t))), quoteLiteral(string(t.Kind)), quoteLiteral(t.Schema)))
	err := e.replayScript(ctx, pre, sp.steps, script)
	res.Duration = time.Since(start)
	if err != nil {
		te := &TargetError{Target: t, Err: apps.WithDetail(err)}
		var se *stepError
		if errors.As(err, &se) {
			te.Step, te.Err = se.step, se.err
		}
		res.Outcome, res.Err = OutcomeFailed, te
		return res
	}
	res.Outcome = OutcomeApplied
	return res
}

// replayScript runs a replay in one transaction: pre (the path and the lock timeout), the steps
// statement by statement, each checked (runStep), then the script.
func (e *Engine) replayScript(ctx context.Context, pre, steps, script []string) error {
	tx, err := beginPgTx(ctx, e.db)
	if err != nil {
		return err
	}
	defer tx.close()
	if err := tx.mark(ctx); err != nil {
		return err
	}
	if len(steps) == 0 { // three round trips: BEGIN, the script, COMMIT (one per statement on Citus)
		script = append(pre, script...)
	} else if err := e.execScript(ctx, tx.Tx, pre); err != nil {
		return err
	}
	for i, id := range steps {
		app, step, _ := strings.Cut(id, "/")
		if err := runStep(ctx, tx.Tx, tx.check, e.step(app, step), steps[:i]); err != nil {
			return &stepError{step: id, err: err}
		}
	}
	if err := e.execScript(ctx, tx.Tx, script); err != nil {
		return err
	}
	return tx.Commit()
}

// render returns sp's statements for the schema name.
func (sp *sharedPlan) render(name string) []string {
	out := make([]string, len(sp.statements))
	for i, s := range sp.statements {
		out[i] = strings.ReplaceAll(s, quoteIdent(sentinelSchema), quoteIdent(name))
	}
	return out
}

// step returns a step of the set.
func (e *Engine) step(app, step string) apps.Step {
	a, _ := e.set.Apps.App(app)
	for _, s := range a.Steps {
		if s.Name == step {
			return s
		}
	}
	return apps.Step{App: app, Name: step}
}

// retryable reports whether a failure came from waiting on a lock held by live traffic (or a
// deadlock with it), which a later attempt may not meet.
func retryable(err error) bool {
	return isSQLState(err, "55P03") || isSQLState(err, "40P01")
}

// lockRetries is how many times a schema blocked by a lock is tried again, with backoff.
const lockRetries = 3

// withRetry runs attempt until it succeeds, fails for a reason other than a lock, or has been
// retried lockRetries times, sleeping 100 ms, 400 ms, 1.6 s (with jitter) in between.
func withRetry(ctx context.Context, attempt func() Result) Result {
	delay := 100 * time.Millisecond
	for i := 0; ; i++ {
		res := attempt()
		res.Retries = i
		if res.Err == nil || !retryable(res.Err) || i == lockRetries {
			return res
		}
		select {
		case <-ctx.Done():
			return res
		case <-time.After(delay + rand.N(delay/2)):
		}
		delay *= 4
	}
}

// errSharedRefused is the refusal shared with the representative's group.
var errSharedRefused = errors.New("the same plan as the group's representative")

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// textArray writes a text[] literal.
func textArray(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return "{" + strings.Join(q, ",") + "}"
}
