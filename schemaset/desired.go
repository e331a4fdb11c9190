package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"

	"github.com/jackc/pgx/v5"
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
	routines    routines // the views and functions, which the engine manages itself (routines.go)
	fingerprint string
}

// diff returns the changes that bring live, whose views and functions are liveR, to this desired
// state, and their plan, qualified with live's name: Atlas' statements, with those of the views
// and functions around them (planRoutines). dropped describes the views and functions that the
// plan drops because no app declares them.
func (d *desired) diff(ctx context.Context, drv migrate.Driver, live *schema.Schema, liveR routines) (changes schema.Changes, plan *migrate.Plan, dropped []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.schema.Name = live.Name
	changes, err = drv.SchemaDiff(live, d.schema)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("diff: %w", err)
	}
	plan = &migrate.Plan{}
	if len(changes) > 0 {
		if plan, err = drv.PlanChanges(ctx, "", changes); err != nil {
			return nil, nil, nil, fmt.Errorf("plan: %w", err)
		}
	}
	rp := planRoutines(live.Name, d.routines, liveR, changes)
	var all []*migrate.Change
	for _, s := range rp.before {
		all = append(all, &migrate.Change{Cmd: s})
	}
	all = append(all, plan.Changes...)
	for _, s := range rp.after {
		all = append(all, &migrate.Change{Cmd: s})
	}
	plan.Changes = all
	return changes, plan, rp.dropped, nil
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
// It changes no existing schema: every app runs in a scratch schema of its own. public's apps are
// materialised first, and their scratch schema then stands for public (apps.Options.Public) in the
// search path of the others, so that tenant apps reference public's tables as an apply will leave
// them, even those a first apply has not created yet; the references are renamed to public in the
// inspected states. A statement that ends the transaction (ErrTransactionEnded) stops the
// computation, and the scratch schemas it may have committed are dropped; apps whose SQL wrote
// outside the scratch schemas stop it too (ErrWroteOutsideScratch).
func (e *Engine) desiredStates(ctx context.Context, targets []Target) (map[string]*desired, error) {
	need := map[string]Target{}
	for _, t := range targets {
		need[desiredKey(t)] = t
	}
	if out, ok := e.cachedDesired(need); ok {
		return out, nil
	}
	tx, err := beginPgTx(ctx, e.db)
	if err != nil {
		return nil, fmt.Errorf("schemaset: compute desired state: %w", err)
	}
	defer tx.close()
	// On Citus, public's scratch tables reference the engine's tables, which creations write:
	// take turns with them, and with the other computations, whose result may be the one needed.
	if err := e.citusTurn(ctx, tx.Tx); err != nil {
		return nil, err
	}
	out, ok := e.cachedDesired(need)
	if ok {
		return out, nil
	}
	if err := e.setLimits(ctx, tx.Tx); err != nil {
		return nil, err
	}
	drv, err := openAtlas(tx.Tx)
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
	names := newScratchNames()
	for _, t := range order {
		scratch := names.next()
		held, err := e.outsideLocks(ctx, tx.Tx, names.made)
		if err != nil {
			return nil, err
		}
		d, err := e.materialize(ctx, tx, drv, t, scratch, names.made[0])
		if err == nil {
			// App SQL runs in the scratch schemas only: one that wrote elsewhere (a qualified
			// public.plans) is refused, and the rollback restores what it wrote.
			if err = e.wroteOutside(ctx, tx.Tx, names.made, held); err != nil {
				err = fmt.Errorf("schemaset: desired state of %s %q: app SQL %w", t.Kind, t.Schema, err)
			}
		}
		if err != nil {
			if errors.Is(err, apps.ErrTransactionEnded) {
				err = errors.Join(err, e.dropScratch(ctx, tx, names.made))
			}
			return nil, err
		}
		out[desiredKey(t)] = d
		if t.Kind == KindPublic {
			// On Citus, tenant scratch schemas are distributed: the tables of public's scratch
			// schema, which they may reference, become reference tables, as public's will.
			if err := e.citusReferenceTables(ctx, tx.Tx, d, scratch); err != nil {
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

// cachedDesired returns the engine's cached desired states of need's groups, and whether it has
// all of them at the apps' fingerprint.
func (e *Engine) cachedDesired(need map[string]Target) (map[string]*desired, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]*desired{}
	for key, t := range need {
		d := e.desired[key]
		if d == nil || d.fingerprint != e.set.Fingerprint(t) {
			return out, false
		}
		out[key] = d
	}
	return out, true
}

// dropScratch drops the scratch schemas of a desired-state computation or a plan whose
// transaction a statement ended, which may have committed them. The connection is outside any transaction, so
// each drop commits on its own.
func (e *Engine) dropScratch(ctx context.Context, tx *pgTx, names []string) error {
	var errs []error
	for _, n := range names {
		if _, err := tx.conn.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(n)+" CASCADE"); err != nil {
			errs = append(errs, fmt.Errorf("schemaset: drop scratch schema %q: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// materialize creates target's apps in the scratch schema and inspects it. public names the
// scratch schema of public's apps, which stands for public for the other groups.
func (e *Engine) materialize(ctx context.Context, tx *pgTx, drv migrate.Driver, t Target, scratch, public string) (*desired, error) {
	if err := e.citusScratch(ctx, tx.Tx, t.Kind != KindPublic); err != nil {
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
	opts := apps.Options{Public: public, ExtraSearchPath: e.set.Config.ExtraSearchPaths}
	path := e.searchPathVia(scratch, public)
	if t.Kind == KindPublic {
		opts.Public, path = "", e.searchPath(scratch)
	}
	// A group without apps (a public that shares nothing) wants an empty schema.
	if len(list) > 0 {
		if err := apps.MaterializeWith(ctx, tx, scratch, opts, list...); err != nil {
			return nil, fmt.Errorf("schemaset: desired state of %s %q: %w", t.Kind, t.Schema, err)
		}
	}
	s, err := e.inspectPath(ctx, tx.Tx, drv, scratch, path)
	if err != nil {
		return nil, fmt.Errorf("schemaset: desired state of %s %q: %w", t.Kind, t.Schema, err)
	}
	standIn := public
	if t.Kind == KindPublic {
		standIn = ""
	} else {
		renameRefs(s, public, "public")
	}
	r, err := readRoutines(ctx, tx.Tx, scratch, standIn)
	if err != nil {
		return nil, fmt.Errorf("schemaset: desired state of %s %q: %w", t.Kind, t.Schema, err)
	}
	return &desired{schema: s, routines: r, fingerprint: e.set.Fingerprint(t)}, nil
}

// renameRefs renames, in what s references outside itself (the tables of foreign keys, enum
// types of columns), the schema from to to.
func renameRefs(s *schema.Schema, from, to string) {
	rename := func(o *schema.Schema) {
		if o != nil && o != s && o.Name == from {
			o.Name = to
		}
	}
	for _, t := range s.Tables {
		for _, fk := range t.ForeignKeys {
			if fk.RefTable != nil {
				rename(fk.RefTable.Schema)
			}
		}
		for _, c := range t.Columns {
			if c.Type == nil {
				continue
			}
			switch ct := c.Type.Type.(type) {
			case *schema.EnumType:
				rename(ct.Schema)
			case *postgres.ArrayType:
				if et, ok := ct.Type.(*schema.EnumType); ok {
					rename(et.Schema)
				}
			}
		}
	}
}

// inspect reads one schema with Atlas. The search path is set to the schema, then public, first:
// PostgreSQL renders default and check expressions relative to the search path, and the desired
// and live states must be rendered alike to compare equal.
func (e *Engine) inspect(ctx context.Context, tx *sql.Tx, drv migrate.Driver, name string) (*schema.Schema, error) {
	return e.inspectPath(ctx, tx, drv, name, e.searchPath(name))
}

// inspectPath is inspect with the search path given.
func (e *Engine) inspectPath(ctx context.Context, tx *sql.Tx, drv migrate.Driver, name, path string) (*schema.Schema, error) {
	if err := setLocal(ctx, tx, "search_path", path); err != nil {
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

// searchPathVia is the search path of a scratch schema whose public stands in schema public: the
// schema, public's stand-in, public, extras. Names resolve in it as they will in the schema's own
// path once public is at its desired state.
func (e *Engine) searchPathVia(name, public string) string {
	path := quoteIdent(name) + ", " + quoteIdent(public) + ", public"
	for _, x := range e.set.Config.ExtraSearchPaths {
		path += ", " + quoteIdent(x)
	}
	return path
}

// setLimits starts each of the engine's transactions that reads the catalog or changes schemas:
// lock_timeout, so that a schema whose tables live traffic holds fails and is retried instead of
// stalling the run; standard_conforming_strings on, so that the server reads the string literals
// of app SQL and steps as the parser that classified them did; and jit off. The engine's catalog queries are short, but over the catalog of
// thousands of tenants their estimates pass jit_above_cost, and compiling them cost more than
// running them: 400 ms against 2 to 13 ms for the clone fingerprint with 2,000 tenants.
func (e *Engine) setLimits(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_catalog.set_config('lock_timeout', $1, true), pg_catalog.set_config('jit', 'off', true), "+
		"pg_catalog.set_config('standard_conforming_strings', 'on', true)"+e.citusLimits(), e.opts.lockTimeout())
	if err != nil {
		return fmt.Errorf("schemaset: set lock_timeout, jit and standard_conforming_strings: %w", err)
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

// quoteIdent quotes an SQL identifier, as pgx does.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// openAtlas opens Atlas' PostgreSQL driver on tx, with its inspection scoped to the schema (see
// internal/scoped).
func openAtlas(tx *sql.Tx) (migrate.Driver, error) { return scoped.Open(tx) }
