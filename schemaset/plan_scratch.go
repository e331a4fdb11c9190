package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

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
	// public is the scratch copy of public that stands for it in the steps' search path: public
	// after its pending steps, when public's plan ran some, else a copy of public (copyPublic);
	// "" for none.
	public string
}

// planLive returns the state that a plan of t diffs against t's desired state: t as its pending
// steps would leave it, named t.Schema, with the steps that ran, and the scratch copy they ran in
// ("" when none was made).
//
// A schema with no step to run is only read, in place. Otherwise (or when it does not exist yet)
// a scratch schema stands for it: a copy of its structure (cloneStructure: no rows) or, for a new
// schema, an empty one. The steps run there, each statement checked to leave the transaction open,
// with the search path a tenant's would have: the copy, then public's copy (p.public), then public. A statement that writes outside the plan's scratch schemas (a qualified
// public.plans, or a public table that the path finds) stops the schema's plan with
// ErrWroteOutsideScratch. Steps are not recorded.
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
	// After each statement: the transaction is still open, and nothing outside the plan's
	// scratch schemas was written.
	held, err := e.outsideLocks(ctx, p.Tx, p.scratch.made)
	if err != nil {
		return nil, nil, "", err
	}
	check := func(ctx context.Context) error {
		if err := p.check(ctx); err != nil {
			return err
		}
		return e.wroteOutside(ctx, p.Tx, p.scratch.made, held)
	}
	if ran, err = runPending(ctx, p.Tx, check, pending, ""); err != nil {
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

// ErrWroteOutsideScratch: app SQL or a step that a plan, a status or a desired-state computation
// ran in a scratch schema took a lock that writes (or alters) a table or a sequence of another
// schema, public or a tenant's, through a qualified name or one that the search path found there.
// The rollback restores that schema's rows and structure, but not a sequence's value, and the lock
// held its traffic meanwhile: the run stops there, and the error names the relation.
var ErrWroteOutsideScratch = errors.New("wrote outside the scratch schemas")

// wroteOutsideSQL lists the relations outside the schemas $1 that the transaction holds a lock on
// in a mode that writes or alters: ROW EXCLUSIVE (INSERT, UPDATE, DELETE, nextval) or stronger,
// but SHARE ROW EXCLUSIVE, which a foreign key to a table takes on it (a copy of a tenant keeps its
// keys to public's tables). The system's catalogs, which DDL in a scratch schema writes, and the
// objects of extensions are left out, and so are indexes, which go with their table.
const wroteOutsideSQL = `SELECT DISTINCT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) || ' (' || l.mode || ')'
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_class c ON c.oid = l.relation
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND c.relkind NOT IN ('i', 'I')
	AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
	AND l.mode IN ('RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ExclusiveLock', 'AccessExclusiveLock')
	AND n.nspname <> ALL ($1::text[]) AND n.nspname NOT IN ('pg_catalog', 'pg_toast', 'information_schema')
	AND n.nspname !~ '^pg_(toast_)?temp_[0-9]+$'
	AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
		AND ((d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid)
			OR (d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid)))`

// outsideLocks returns the locks that tx holds on relations outside the scratch schemas in a
// mode that writes (wroteOutsideSQL), as "schema.table (mode)".
func (e *Engine) outsideLocks(ctx context.Context, tx *sql.Tx, scratch []string) ([]string, error) {
	q := wroteOutsideSQL
	if e.onCitus() {
		q += citusOwnLocksSQL
	}
	rows, err := tx.QueryContext(ctx, q+"\nORDER BY 1", scratch)
	if err != nil {
		return nil, fmt.Errorf("read the transaction's locks: %w", err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		found = append(found, s)
	}
	return found, rows.Err()
}

// citusOwnLocksSQL leaves out, on a Citus coordinator, the locks that Citus itself takes on its
// tables (public's reference tables, the engine's among them) to keep their placements consistent
// while DDL in another schema refers to them, in modes stronger than ROW EXCLUSIVE: a write of
// their rows still counts.
const citusOwnLocksSQL = `
	AND NOT (l.mode <> 'RowExclusiveLock' AND c.oid IN (SELECT logicalrelid FROM pg_catalog.pg_dist_partition))`

// wroteOutside fails with ErrWroteOutsideScratch when tx holds a lock that writes a relation
// outside the scratch schemas, other than those of held (outsideLocks before the SQL ran): the
// engine's own statements take some, as Citus' create_reference_table does on the reference
// tables it must keep consistent with the new one.
func (e *Engine) wroteOutside(ctx context.Context, tx *sql.Tx, scratch, held []string) error {
	found, err := e.outsideLocks(ctx, tx, scratch)
	if err != nil {
		return err
	}
	found = slices.DeleteFunc(found, func(l string) bool { return slices.Contains(held, l) })
	if len(found) > 0 {
		return fmt.Errorf("%w: it locked %s to write it; a plan changes no existing schema, so it cannot run SQL that writes "+
			"outside its own schema (a rollback would not give back a sequence's values)", ErrWroteOutsideScratch, strings.Join(found, ", "))
	}
	return nil
}

// copyPublic makes, when a schema of the plan other than public may have steps to run, a copy of
// public's structure in which those steps find public's tables by their unqualified names, so that
// a step that writes a shared table writes the copy. It is made once, at the top of the plan's
// transaction, and stands for public until public's own plan ran steps in a copy of its own. When
// public cannot be copied (it holds what a clone cannot copy, such as an extension's objects), the
// plan goes on without: the steps' writes to public's tables then stop their schemas' plans
// (ErrWroteOutsideScratch).
func (e *Engine) copyPublic(ctx context.Context, p *planTx, targets []Target, records map[string]record) error {
	if !slices.ContainsFunc(targets, func(t Target) bool { return t.Kind != KindPublic && e.mayRunSteps(t, records[t.Schema]) }) {
		return nil
	}
	const sp = "pgschemas_public_copy"
	if _, err := p.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
		return err
	}
	scratch := p.scratch.next()
	_, err := p.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(scratch))
	if err == nil {
		err = e.cloneInTx(ctx, p.Tx, "public", scratch, cloneStructure)
	}
	if err != nil {
		_, err = p.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp+"; RELEASE SAVEPOINT "+sp)
		return err
	}
	p.public = scratch
	_, err = p.ExecContext(ctx, "RELEASE SAVEPOINT "+sp)
	return err
}

// mayRunSteps reports whether t may have steps to run: it exists and had an app that has steps.
func (e *Engine) mayRunSteps(t Target, rec record) bool {
	if !rec.exists {
		return false
	}
	for _, name := range e.set.AppsOf(t) {
		if a, _ := e.set.Apps.App(name); a != nil && len(a.Steps) > 0 && slices.Contains(rec.apps, name) {
			return true
		}
	}
	return false
}
