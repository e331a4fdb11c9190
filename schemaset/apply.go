package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"ariga.io/atlas/sql/migrate"
	"github.com/jackc/pgx/v5/pgtype"
	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/apps"
)

// Outcome is what happened to one schema in a run.
type Outcome string

const (
	// OutcomeUpToDate: the recorded fingerprint matched (or, with Verify, the diff was empty); nothing ran.
	OutcomeUpToDate Outcome = "up_to_date"
	// OutcomeApplied: steps and changes ran and committed.
	OutcomeApplied Outcome = "applied"
	// OutcomePlanned: a plan was made and nothing was committed (Plan, or ApplyOptions.DryRun).
	OutcomePlanned Outcome = "planned"
	// OutcomeRefused: the plan holds destructive changes and they were not allowed; nothing ran.
	OutcomeRefused Outcome = "refused"
	// OutcomeFailed: a step or statement failed; the schema is exactly as it was.
	OutcomeFailed Outcome = "failed"
	// OutcomeSkipped: not attempted, because an earlier schema failed without ContinueOnError.
	OutcomeSkipped Outcome = "skipped"
)

// Result is the outcome of one schema.
type Result struct {
	Target
	Outcome Outcome `json:"outcome"`
	// Steps are the one-time steps that ran (or would run), as "app/0001_name".
	Steps []string `json:"steps,omitempty"`
	// Statements are the SQL statements that ran (or would run), in order.
	Statements []string `json:"statements,omitempty"`
	// Destructive describes each destructive change of the plan.
	Destructive []string `json:"destructive,omitempty"`
	// Created is true when the schema did not exist and was created.
	Created bool `json:"created,omitempty"`
	// Shared is true when the schema took its group's shared plan, without an inspection of its own.
	Shared bool `json:"shared,omitempty"`
	// FellBack is true when the shared plan failed on this schema (or could not be made), and the
	// schema was inspected and diffed on its own.
	FellBack bool `json:"fell_back,omitempty"`
	// Retries counts the attempts repeated because a lock held by live traffic timed out.
	Retries  int           `json:"retries,omitempty"`
	Err      error         `json:"-"`
	Duration time.Duration `json:"duration_ns"`
}

// Report is the outcome of a run over several schemas, in apply order.
type Report struct {
	Results []Result
	// Pool is what the apply did to the pool of pre-cloned schemas after the reference (see
	// FillPool); nil when it did nothing (no pool, or the reference was not in the run).
	Pool *PoolFill `json:",omitempty"`
}

// Count returns how many results have the outcome.
func (r *Report) Count(o Outcome) int {
	n := 0
	for _, res := range r.Results {
		if res.Outcome == o {
			n++
		}
	}
	return n
}

// Tally counts the results for which f is true.
func (r *Report) Tally(f func(Result) bool) int {
	n := 0
	for _, res := range r.Results {
		if f(res) {
			n++
		}
	}
	return n
}

// Targets returns the schemas of the report, in order.
func (r *Report) Targets() []Target {
	out := make([]Target, len(r.Results))
	for i, res := range r.Results {
		out[i] = res.Target
	}
	return out
}

// Err joins the errors of every failed or refused schema; nil when there were none.
func (r *Report) Err() error {
	var errs []error
	for _, res := range r.Results {
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	if r.Pool != nil && r.Pool.Err != nil {
		errs = append(errs, r.Pool.Err)
	}
	return errors.Join(errs...)
}

// ApplyOptions tune one Apply or Plan run.
type ApplyOptions struct {
	// AllowDestructive lets a plan drop tables and columns and change types.
	AllowDestructive bool
	// ContinueOnError goes on with the other schemas after a failure. Without it, the run stops
	// starting schemas after the first failure; those already running finish.
	ContinueOnError bool
	// Verify ignores the recorded fingerprints and inspects every schema.
	Verify bool
	// Parallel overrides Options.Parallel for this run when above zero.
	Parallel int
	// OnResult, when set, is called once per schema as soon as it is done, from the worker that did it.
	OnResult func(Result)
}

// Apply brings each target to its desired state: public first, then static tenants and the
// reference, then the dynamic tenants in parallel. It holds the apply lock for the whole run, so a
// second apply waits. Each schema runs in one transaction: on failure it is exactly as it was.
// The error is non-nil only when the run could not start; per-schema failures are in the report.
// When the run includes the reference and a pool is kept, Apply then fills the pool (FillPool),
// which replaces the pooled schemas that fell behind; that outcome is the report's Pool.
// With strict = true, Apply then grants the roles of the tenants it changed, of those it found up
// to date without their role, and of every tenant when it changed public (with Verify, of all it
// ran on); an error there is returned with the report (roles.go).
func (e *Engine) Apply(ctx context.Context, targets []Target, opts ApplyOptions) (*Report, error) {
	report, err := e.run(ctx, targets, opts, false)
	if err != nil {
		return report, err
	}
	e.keepPool(ctx, report)
	return report, e.syncRoles(ctx, report, opts.Verify)
}

// Plan computes what Apply would do, and changes no existing schema. A schema with pending steps
// is planned from a scratch copy of its structure in which the steps ran (planLive), so that the
// plan accounts for steps such as renames: the steps never run in the schema itself, nor in public
// (public's steps run in public's copy). The copy is diffed against the desired state, and the
// diff's statements are listed, not run. The copies live in one transaction that is rolled back;
// a statement that ended it (which the loader's parser refuses) stops the plan, and the copies it
// may have committed are dropped. A step that would fail only on the schema's rows (the copy has
// none) fails at apply, which leaves the schema as it was. As Apply
// does, it inspects one representative of the dynamic tenants recorded at one fingerprint and
// gives the others its plan with their name put in (Result.Shared); Verify inspects each.
func (e *Engine) Plan(ctx context.Context, targets []Target, opts ApplyOptions) (*Report, error) {
	return e.run(ctx, targets, opts, true)
}

func (e *Engine) run(ctx context.Context, targets []Target, opts ApplyOptions, dryRun bool) (*Report, error) {
	if err := e.ensureRegistry(ctx); err != nil {
		return nil, err
	}
	if !dryRun {
		unlock, err := e.lockApply(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	records, err := e.records(ctx, targets)
	if err != nil {
		return nil, err
	}
	report := &Report{Results: make([]Result, len(targets))}
	var todo []int
	for i, t := range targets {
		report.Results[i] = Result{Target: t, Outcome: OutcomeSkipped}
		if rec := records[t.Schema]; !opts.Verify && rec.exists && rec.fingerprint == e.set.Fingerprint(t) {
			report.Results[i].Outcome = OutcomeUpToDate
			e.emit(opts, report.Results[i])
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return report, nil
	}
	var need []Target
	for _, i := range todo {
		need = append(need, targets[i])
	}
	states, err := e.desiredStates(ctx, need)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return report, e.planAll(ctx, targets, todo, report, states, records, opts)
	}
	parallel := e.opts.parallel()
	if opts.Parallel > 0 {
		parallel = opts.Parallel
	}
	// Public, the static tenants and the reference go one by one and first: tenants may depend
	// on public's tables. Dynamic tenants then go in parallel.
	failed := false
	i := 0
	for ; i < len(todo) && targets[todo[i]].Kind != KindDynamic; i++ {
		if failed && !opts.ContinueOnError {
			break
		}
		res := withRetry(ctx, func() Result { return e.one(ctx, targets[todo[i]], states, records, opts, nil) })
		report.Results[todo[i]] = res
		e.emit(opts, res)
		e.resultEvent(res)
		failed = failed || res.Err != nil
	}
	if failed && !opts.ContinueOnError {
		return report, nil
	}
	e.applyDynamic(ctx, targets, todo[i:], report, states, records, opts, parallel)
	return report, nil
}

// applyDynamic applies the dynamic tenants in parallel, in two phases. First, the tenants that go
// on their own and one representative of each group of tenants recorded at the same fingerprint;
// then the rest of each group, which replays its representative's plan.
func (e *Engine) applyDynamic(ctx context.Context, targets []Target, todo []int, report *Report, states map[string]*desired, records map[string]record, opts ApplyOptions, parallel int) {
	first, plans, members := groupDynamic(targets, todo, records, opts)
	var stopped atomic.Bool
	work := func(idx int, do func() Result) func() error {
		return func() error {
			if stopped.Load() {
				return nil
			}
			res := withRetry(ctx, do)
			report.Results[idx] = res
			e.emit(opts, res)
			e.resultEvent(res)
			if res.Err != nil && !opts.ContinueOnError {
				stopped.Store(true) // no new schema starts
			}
			return nil
		}
	}
	g := new(errgroup.Group)
	g.SetLimit(parallel)
	for _, idx := range first {
		g.Go(work(idx, func() Result { return e.oneShared(ctx, targets[idx], states, records, opts, plans[idx]) }))
	}
	_ = g.Wait() // each failure is in its schema's result
	g = new(errgroup.Group)
	g.SetLimit(parallel)
	for _, m := range members {
		idx, rep := m[0], m[1]
		repRes := report.Results[rep]
		g.Go(work(idx, func() Result {
			switch {
			case repRes.Outcome == OutcomeRefused:
				return sharedRefusal(targets[idx], repRes)
			case repRes.Err == nil && repRes.Outcome != OutcomeSkipped:
				if res := e.replay(ctx, targets[idx], plans[rep]); res.Err == nil || retryable(res.Err) {
					return res
				}
			}
			res := e.one(ctx, targets[idx], states, records, opts, nil)
			res.FellBack = true
			return res
		}))
	}
	_ = g.Wait()
}

// groupDynamic sorts the dynamic tenants of todo for plan once, apply many: first are those that
// go on their own (Verify, no record) and one representative of each group of tenants recorded at
// the same fingerprint, in order; plans holds an empty sharedPlan for each representative whose
// group has other members, and members pairs each of those with its representative.
func groupDynamic(targets []Target, todo []int, records map[string]record, opts ApplyOptions) (first []int, plans map[int]*sharedPlan, members [][2]int) {
	groups := map[string][]int{}
	for _, idx := range todo {
		rec := records[targets[idx].Schema]
		if opts.Verify || !rec.exists || rec.fingerprint == "" {
			first = append(first, idx)
			continue
		}
		groups[rec.fingerprint] = append(groups[rec.fingerprint], idx)
	}
	plans = map[int]*sharedPlan{} // by representative
	for _, g := range groups {
		first = append(first, g[0])
		if len(g) > 1 {
			plans[g[0]] = &sharedPlan{}
			for _, idx := range g[1:] {
				members = append(members, [2]int{idx, g[0]})
			}
		}
	}
	slices.Sort(first)
	slices.SortFunc(members, func(a, b [2]int) int { return a[0] - b[0] })
	return first, plans, members
}

// sharedRefusal is the refusal of a member of a group whose representative was refused: same
// fingerprint, same plan, same refusal, with no need to inspect to know.
func sharedRefusal(t Target, rep Result) Result {
	return Result{Target: t, Outcome: OutcomeRefused, Destructive: rep.Destructive, Shared: true,
		Err: &TargetError{Target: t, Err: fmt.Errorf("%w: %v, %w (allow them with --allow-destructive)", ErrDestructive, rep.Destructive, errSharedRefused)}}
}

// planAll plans the schemas one after the other in one transaction that is rolled back at the end,
// in which the scratch copies of planLive are made.
// Dynamic tenants are planned as Apply would run them: one representative per group of tenants
// recorded at the same fingerprint is inspected and diffed, and its plan, with the schema name put
// in, is each other member's plan (Shared). So planning thousands of tenants costs a few
// inspections, and the transaction never locks thousands of tables.
func (e *Engine) planAll(ctx context.Context, targets []Target, todo []int, report *Report, states map[string]*desired, records map[string]record, opts ApplyOptions) error {
	ptx, err := beginPgTx(ctx, e.db)
	if err != nil {
		return fmt.Errorf("schemaset: plan: %w", err)
	}
	defer ptx.close()
	if err := ptx.mark(ctx); err != nil {
		return fmt.Errorf("schemaset: plan: %w", err)
	}
	tx := &planTx{pgTx: ptx, scratch: newScratchNames()}
	if err := e.setLimits(ctx, ptx.Tx); err != nil {
		return err
	}
	var planned []Target
	for _, i := range todo {
		planned = append(planned, targets[i])
	}
	if err := e.copyPublic(ctx, tx, planned, records); err != nil {
		return fmt.Errorf("schemaset: plan: %w", err)
	}
	failed := false
	// ended: a statement ended the transaction, so nothing more may run in it; the scratch
	// schemas it may have committed are dropped.
	ended := func(res Result) (bool, error) {
		if !errors.Is(res.Err, apps.ErrTransactionEnded) {
			return false, nil
		}
		return true, e.dropScratch(ctx, ptx, tx.scratch.made)
	}
	i := 0
	for ; i < len(todo) && targets[todo[i]].Kind != KindDynamic; i++ {
		if failed && !opts.ContinueOnError {
			return nil
		}
		res := e.one(ctx, targets[todo[i]], states, records, opts, tx)
		report.Results[todo[i]] = res
		e.emit(opts, res)
		if stop, err := ended(res); stop {
			return err
		}
		failed = failed || res.Err != nil
	}
	first, plans, members := groupDynamic(targets, todo[i:], records, opts)
	for _, idx := range first {
		if failed && !opts.ContinueOnError {
			return nil
		}
		res := e.work(ctx, targets[idx], states, records, opts, tx, plans[idx])
		report.Results[idx] = res
		e.emit(opts, res)
		if stop, err := ended(res); stop {
			return err
		}
		failed = failed || res.Err != nil
	}
	for _, m := range members {
		if failed && !opts.ContinueOnError {
			return nil
		}
		idx, rep := m[0], m[1]
		repRes := report.Results[rep]
		var res Result
		switch {
		case repRes.Outcome == OutcomeRefused:
			res = sharedRefusal(targets[idx], repRes)
		case repRes.Err == nil && repRes.Outcome != OutcomeSkipped:
			res = Result{Target: targets[idx], Outcome: repRes.Outcome, Steps: plans[rep].steps,
				Statements: plans[rep].render(targets[idx].Schema), Shared: true}
		default:
			res = e.one(ctx, targets[idx], states, records, opts, tx)
			res.FellBack = true
		}
		report.Results[idx] = res
		e.emit(opts, res)
		if stop, err := ended(res); stop {
			return err
		}
		failed = failed || res.Err != nil
	}
	return nil
}

func (e *Engine) emit(opts ApplyOptions, r Result) {
	if opts.OnResult != nil {
		opts.OnResult(r)
	}
}

// scope starts the transaction of one schema: a new one, or a savepoint of shared. end(true)
// keeps the work under a savepoint and does nothing to an own transaction (the caller commits it);
// end(false) undoes either.
func (e *Engine) scope(ctx context.Context, shared *pgTx) (*pgTx, func(ok bool), error) {
	if shared == nil {
		tx, err := beginPgTx(ctx, e.db)
		if err != nil {
			return nil, nil, err
		}
		if err := tx.mark(ctx); err != nil {
			tx.close()
			return nil, nil, err
		}
		return tx, func(bool) { tx.close() }, nil
	}
	if _, err := shared.ExecContext(ctx, "SAVEPOINT pgschemas_schema"); err != nil {
		return nil, nil, err
	}
	return shared, func(ok bool) {
		q := "RELEASE SAVEPOINT pgschemas_schema"
		if !ok {
			q = "ROLLBACK TO SAVEPOINT pgschemas_schema; " + q
		}
		_, _ = shared.ExecContext(ctx, q)
	}, nil
}

// typeMap decodes PostgreSQL arrays read through database/sql. It is only read after init.
var typeMap = pgtype.NewMap()

// record is what the registry says about one schema.
type record struct {
	exists      bool
	fingerprint string
	apps        []string
}

// records reads, in one query, whether each target exists and the fingerprint it was last brought to.
func (e *Engine) records(ctx context.Context, targets []Target) (map[string]record, error) {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Schema
	}
	rows, err := e.db.QueryContext(ctx, `SELECT t.name, n.oid IS NOT NULL, coalesce(s.fingerprint, ''), coalesce(s.apps, '{}')
		FROM unnest($1::text[]) AS t(name)
		LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.name
		LEFT JOIN public.pgschemas_schema_state s ON s.schema_name = t.name`, names)
	if err != nil {
		return nil, fmt.Errorf("schemaset: read the schema records: %w", err)
	}
	defer rows.Close()
	out := make(map[string]record, len(targets))
	for rows.Next() {
		var name string
		var r record
		if err := rows.Scan(&name, &r.exists, &r.fingerprint, typeMap.SQLScanner(&r.apps)); err != nil {
			return nil, fmt.Errorf("schemaset: read the schema records: %w", err)
		}
		out[name] = r
	}
	return out, rows.Err()
}

// one brings one schema to its desired state in one transaction.
//
// With a plan's transaction (shared), nothing runs in the schema: its pending steps run in a
// scratch copy (planLive) under a savepoint of shared, and the diff's statements are only listed.
// The savepoint is undone when the schema is planned, but for public's, whose copy the steps of
// later schemas see in their search path; the caller rolls the whole transaction back.
func (e *Engine) one(ctx context.Context, t Target, states map[string]*desired, records map[string]record, opts ApplyOptions, shared *planTx) Result {
	return e.work(ctx, t, states, records, opts, shared, nil)
}

// oneShared is one for a dynamic tenant; with sp, the tenant represents its group and sp receives
// the plan the group's other tenants replay.
func (e *Engine) oneShared(ctx context.Context, t Target, states map[string]*desired, records map[string]record, opts ApplyOptions, sp *sharedPlan) Result {
	return e.work(ctx, t, states, records, opts, nil, sp)
}

func (e *Engine) work(ctx context.Context, t Target, states map[string]*desired, records map[string]record, opts ApplyOptions, shared *planTx, sp *sharedPlan) (res Result) {
	start := time.Now()
	res = Result{Target: t}
	defer func() { res.Duration = time.Since(start) }()
	fail := func(step, stmt string, err error) Result {
		res.Outcome = OutcomeFailed
		res.Err = &TargetError{Target: t, Step: step, Statement: stmt, Err: apps.WithDetail(err)}
		return res
	}
	var sharedTx *pgTx
	if shared != nil {
		sharedTx = shared.pgTx
	}
	tx, end, err := e.scope(ctx, sharedTx)
	if err != nil {
		return fail("", "", err)
	}
	ok := false
	defer func() { end(ok) }()
	if err := e.setLimits(ctx, tx.Tx); err != nil {
		return fail("", "", err)
	}
	rec := records[t.Schema]
	res.Created = !rec.exists
	drv, err := openAtlas(tx.Tx)
	if err != nil {
		return fail("", "", err)
	}
	live, steps, scratch, err := e.liveState(ctx, tx, drv, shared, t, rec)
	res.Steps = steps
	if err != nil {
		var se *stepError
		if errors.As(err, &se) {
			return fail(se.step, "", se.err)
		}
		return fail("", "", err)
	}
	liveR, err := e.liveRoutines(ctx, tx.Tx, t.Schema)
	if err != nil {
		return fail("", "", err)
	}
	d := states[desiredKey(t)]
	if sp != nil {
		if sp.statements, err = d.planFor(ctx, drv, live, liveR); err != nil {
			return fail("", "", err)
		}
		sp.steps = steps
	}
	changes, plan, dropped, err := d.diff(ctx, drv, live, liveR)
	if err != nil {
		return fail("", "", err)
	}
	for _, c := range plan.Changes {
		res.Statements = append(res.Statements, c.Cmd)
	}
	res.Destructive = append(destructive(changes), dropped...)
	if len(res.Destructive) > 0 && !opts.AllowDestructive {
		res.Outcome = OutcomeRefused
		res.Err = &TargetError{Target: t, Err: fmt.Errorf("%w: %v (allow them with --allow-destructive)", ErrDestructive, res.Destructive)}
		return res
	}
	changed := len(res.Statements) > 0 || len(res.Steps) > 0 || res.Created
	if shared != nil {
		// A plan lists the statements and does not run them: it never brings a schema (public's
		// drops of tables no app declares, say) to its desired state, even in a transaction that
		// is rolled back. The desired states come from scratch schemas (desiredStates).
		// Keep public's scratch copy, in which its steps ran, for the steps of the schemas after
		// it; undo the others' work, which nothing depends on, so that its locks go with it (a
		// plan of thousands of tenants would exhaust the lock table).
		if ok = t.Kind == KindPublic; ok && scratch != "" {
			shared.public = scratch
		}
		res.Outcome = OutcomeUpToDate
		if changed {
			res.Outcome = OutcomePlanned
		}
		return res
	}
	if err := e.execPlan(ctx, tx.Tx, plan); err != nil {
		var pe *planError
		if errors.As(err, &pe) {
			return fail("", pe.stmt, pe.err)
		}
		return fail("", "", err)
	}
	if err := e.citusAfterPlan(ctx, tx.Tx, t, d); err != nil {
		return fail("", "", err)
	}
	if err := e.record(ctx, tx.Tx, t); err != nil {
		return fail("", "", err)
	}
	// Commit even when nothing changed, so that a stale record (found up to date by Verify) is renewed.
	if err := tx.Commit(); err != nil {
		return fail("", "COMMIT", err)
	}
	res.Outcome = OutcomeUpToDate
	if changed {
		res.Outcome = OutcomeApplied
	}
	return res
}

type planError struct {
	stmt string
	err  error
}

func (e *planError) Error() string { return e.err.Error() }

// execPlan runs a plan's statements in tx.
func (e *Engine) execPlan(ctx context.Context, tx *sql.Tx, plan *migrate.Plan) error {
	for _, c := range plan.Changes {
		if _, err := tx.ExecContext(ctx, c.Cmd, c.Args...); err != nil {
			return &planError{stmt: c.Cmd, err: err}
		}
	}
	return nil
}

// record upserts the schema's fingerprint and apps.
func (e *Engine) record(ctx context.Context, tx *sql.Tx, t Target) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO public.pgschemas_schema_state (schema_name, kind, fingerprint, apps)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (schema_name) DO UPDATE SET kind = excluded.kind, fingerprint = excluded.fingerprint,
			apps = excluded.apps, applied_at = now()`,
		t.Schema, string(t.Kind), e.set.Fingerprint(t), slices.Clone(e.set.AppsOf(t)))
	if err != nil {
		return fmt.Errorf("record the applied state: %w", err)
	}
	return nil
}
