package schemaset

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/pgschemas/pgschemas/apps"
	"github.com/pgschemas/pgschemas/internal/scoped"
)

// desired is the desired state of one group of schemas (public, one static tenant, or the dynamic
// tenants with the reference), as Atlas inspected it from a scratch schema.
//
// Atlas' planner qualifies names with the schema object's Name, so a plan for a target is made by
// renaming the shared schema object to the target for the length of the diff and the plan; mu makes
// that safe across workers.
type desired struct {
	mu          sync.Mutex
	schema      *schema.Schema
	fingerprint string
}

// diff returns the changes that bring live to this desired state and their plan, qualified with
// live's name.
func (d *desired) diff(ctx context.Context, drv migrate.Driver, live *schema.Schema) (schema.Changes, *migrate.Plan, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.schema.Name = live.Name
	changes, err := drv.SchemaDiff(live, d.schema)
	if err != nil {
		return nil, nil, fmt.Errorf("diff: %w", err)
	}
	if len(changes) == 0 {
		return nil, &migrate.Plan{}, nil
	}
	plan, err := drv.PlanChanges(ctx, "", changes)
	if err != nil {
		return nil, nil, fmt.Errorf("plan: %w", err)
	}
	return changes, plan, nil
}

// scratchPrefix names the scratch schemas in which apps are materialised. They exist only inside
// a transaction that is rolled back.
const scratchPrefix = ReservedPrefix + "scratch_"

// inspectExclude keeps the engine's own tables out of every inspection, so that the public diff
// never proposes to drop them.
var inspectExclude = []string{ReservedPrefix + "*"}

// desiredStates materialises the apps of every group that targets need, in one transaction that is
// always rolled back, and returns the inspected desired state per group key.
//
// public is materialised first. Its plan is then run on the real public inside the same
// transaction, so that tenant apps can reference public tables that a first apply has not created
// yet; the rollback undoes it.
func (e *Engine) desiredStates(ctx context.Context, targets []Target) (map[string]*desired, error) {
	need := map[string]Target{}
	for _, t := range targets {
		need[desiredKey(t)] = t
	}
	e.mu.Lock()
	out := map[string]*desired{}
	missing := false
	for key, t := range need {
		if d := e.desired[key]; d != nil && d.fingerprint == e.set.Fingerprint(t) {
			out[key] = d
		} else {
			missing = true
		}
	}
	e.mu.Unlock()
	if !missing {
		return out, nil
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("schemaset: compute desired state: %w", err)
	}
	defer tx.Rollback()
	if err := e.setLimits(ctx, tx); err != nil {
		return nil, err
	}
	drv, err := openAtlas(tx)
	if err != nil {
		return nil, fmt.Errorf("schemaset: %w", err)
	}
	pub := Target{Schema: "public", Kind: KindPublic}
	order := []Target{pub}
	for key, t := range need {
		if key != desiredKey(pub) {
			order = append(order, t)
		}
	}
	// A name of its own per run: two processes computing desired states at once must not wait
	// on each other's uncommitted CREATE SCHEMA of the same name.
	run := rand.Uint64()
	for i, t := range order {
		d, err := e.materialize(ctx, tx, drv, t, fmt.Sprintf("%s%x_%d", scratchPrefix, run, i))
		if err != nil {
			return nil, err
		}
		out[desiredKey(t)] = d
		if t.Kind == KindPublic {
			if err := e.preparePublic(ctx, tx, drv, d); err != nil {
				return nil, err
			}
			if err := e.citusReferenceTables(ctx, tx, d); err != nil {
				return nil, fmt.Errorf("schemaset: desired state of public: %w", err)
			}
		}
	}
	e.mu.Lock()
	for key, d := range out {
		e.desired[key] = d
	}
	e.mu.Unlock()
	return out, nil
}

// materialize creates target's apps in the scratch schema and inspects it.
func (e *Engine) materialize(ctx context.Context, tx *sql.Tx, drv migrate.Driver, t Target, scratch string) (*desired, error) {
	if err := e.citusScratch(ctx, tx, t.Kind != KindPublic); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(scratch)); err != nil {
		return nil, fmt.Errorf("schemaset: create scratch schema: %w", err)
	}
	list := make([]*apps.App, 0, len(e.set.AppsOf(t)))
	for _, name := range e.set.AppsOf(t) {
		a, _ := e.set.Apps.App(name)
		list = append(list, a)
	}
	// A group without apps (a public that shares nothing) wants an empty schema.
	if len(list) > 0 {
		if err := apps.Materialize(ctx, tx, scratch, e.set.Config.ExtraSearchPaths, list...); err != nil {
			return nil, fmt.Errorf("schemaset: desired state of %s %q: %w", t.Kind, t.Schema, err)
		}
	}
	s, err := e.inspect(ctx, tx, drv, scratch)
	if err != nil {
		return nil, fmt.Errorf("schemaset: desired state of %s %q: %w", t.Kind, t.Schema, err)
	}
	return &desired{schema: s, fingerprint: e.set.Fingerprint(t)}, nil
}

// preparePublic brings the real public to its desired state inside the rolled-back transaction.
// It runs under a savepoint: if public cannot get there (for example a drop that dependents
// block), tenant apps are materialised against public as it is, and the apply reports the problem.
func (e *Engine) preparePublic(ctx context.Context, tx *sql.Tx, drv migrate.Driver, d *desired) error {
	live, err := e.inspect(ctx, tx, drv, "public")
	if err != nil {
		return err
	}
	_, plan, err := d.diff(ctx, drv, live)
	if err != nil || len(plan.Changes) == 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT pgschemas_public"); err != nil {
		return err
	}
	for _, c := range plan.Changes {
		if _, err := tx.ExecContext(ctx, c.Cmd, c.Args...); err != nil {
			_, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT pgschemas_public; RELEASE SAVEPOINT pgschemas_public")
			return rerr
		}
	}
	// Release, so that the apps materialised next run in the transaction itself, where apps looks
	// for objects they create outside their scratch schema.
	_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT pgschemas_public")
	return err
}

// inspect reads one schema with Atlas. The search path is set to the schema, then public, first:
// PostgreSQL renders default and check expressions relative to the search path, and the desired
// and live states must be rendered alike to compare equal.
func (e *Engine) inspect(ctx context.Context, tx *sql.Tx, drv migrate.Driver, name string) (*schema.Schema, error) {
	if err := setLocal(ctx, tx, "search_path", e.searchPath(name)); err != nil {
		return nil, err
	}
	s, err := drv.InspectSchema(ctx, name, &schema.InspectOptions{Exclude: inspectExclude})
	if err != nil {
		return nil, fmt.Errorf("inspect schema %q: %w", name, err)
	}
	return s, nil
}

// searchPath is the search path of a schema as the driver sets it: the schema, public, extras.
func (e *Engine) searchPath(name string) string {
	path := quoteIdent(name)
	if name != "public" {
		path += ", public"
	}
	for _, x := range e.set.Config.ExtraSearchPaths {
		path += ", " + quoteIdent(x)
	}
	return path
}

// setLimits starts each of the engine's transactions that reads the catalog or changes schemas:
// lock_timeout, so that a schema whose tables live traffic holds fails and is retried instead of
// stalling the run, and jit off. The engine's catalog queries are short, but over the catalog of
// thousands of tenants their estimates pass jit_above_cost, and compiling them cost more than
// running them: 400 ms against 2 to 13 ms for the clone fingerprint with 2,000 tenants.
func (e *Engine) setLimits(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_catalog.set_config('lock_timeout', $1, true), pg_catalog.set_config('jit', 'off', true)"+e.citusLimits(),
		e.opts.lockTimeout())
	if err != nil {
		return fmt.Errorf("schemaset: set lock_timeout and jit: %w", err)
	}
	return nil
}

// setLocal sets a run-time parameter for the rest of the transaction.
func setLocal(ctx context.Context, tx *sql.Tx, name, value string) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_catalog.set_config($1, $2, true)", name, value); err != nil {
		return fmt.Errorf("schemaset: set %s: %w", name, err)
	}
	return nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// openAtlas opens Atlas' PostgreSQL driver on tx, with its inspection scoped to the schema (see
// internal/scoped).
func openAtlas(tx *sql.Tx) (migrate.Driver, error) { return scoped.Open(tx) }
