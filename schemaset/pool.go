package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// The warm pool: pre-cloned copies of the reference, kept ready so that CreateTenant can claim one
// by renaming it (one catalog update) instead of cloning (a catalog write per object and a copy of
// every row). A pooled schema is named PoolPrefix<n>, has a row in public.pgschemas_pool (with the
// desired-state fingerprint it was filled at, and the fingerprint of the reference's catalog it
// was cloned from), and no tenant row, so selectors, status, the tenant list and routing never
// see it.
//
// A rename is safe because PostgreSQL refers to objects by oid: sequences and their defaults,
// foreign keys, views, indexes and triggers survive it. What refers by name as text does not: a
// function body that qualifies a name with the schema (the clone rewrites it to the pooled
// schema's name, which the rename then leaves dangling), a function's SET search_path, or a view,
// default, constraint, trigger argument, rule, policy or index expression that names the schema
// in a string. FillPool refuses such a reference (ErrPoolUnsafe) before it pools anything, and
// checks each pooled schema again after cloning it, for any pooled schema's name.

// PoolPrefix is the name prefix of pooled schemas: PoolPrefix followed by a number. It is inside
// the reserved prefix, so no tenant can be named so.
const PoolPrefix = ReservedPrefix + "pool_"

// poolLockKey serialises the fillers of the pool on one database, so that two of them neither
// overfill it nor pick the same number; claims do not take it.
const poolLockKey = 0x7067737030306c21 // "pgsp00l!"

// ErrPoolUnsafe: the reference holds objects that name its own schema as text, so a pooled copy
// would not survive the rename to a tenant's name. Nothing was pooled. The error names the objects;
// make them rely on the search path instead (the driver sets it to the tenant), or set
// dynamic { pool = 0 }.
var ErrPoolUnsafe = errors.New("the reference names its own schema as text, so it cannot be pooled")

// ErrNoPool: the config keeps no pool (no clone_reference, or pool = 0 and no Options.PoolSize).
var ErrNoPool = errors.New("the config keeps no pool of pre-cloned schemas")

// PoolSchema is one pooled schema.
type PoolSchema struct {
	Schema string `json:"schema"`
	// Fingerprint is the desired-state fingerprint the schema was filled at.
	Fingerprint string    `json:"fingerprint"`
	FilledAt    time.Time `json:"filled_at"`
	// Current is true when the schema is at this engine's apps' fingerprint and was cloned from
	// the reference's catalog as it is now. A claim checks the fingerprint only (a catalog
	// fingerprint costs milliseconds); the next fill or apply replaces a schema cloned from an
	// older catalog of the reference.
	Current bool `json:"current"`
}

// PoolStatus is where the pool stands.
type PoolStatus struct {
	// Size is the number of pooled schemas the engine keeps (the config's pool, or Options.PoolSize).
	Size int `json:"size"`
	// Ready counts the schemas that a creation can claim now.
	Ready int `json:"ready"`
	// Schemas are every pooled schema, current or not, by name.
	Schemas []PoolSchema `json:"schemas"`
}

// PoolFill is what FillPool did.
type PoolFill struct {
	// Filled are the pooled schemas it created, and Dropped those it dropped: behind (another
	// fingerprint, or cloned from an older catalog of the reference) or beyond the size.
	Filled  []string `json:"filled"`
	Dropped []string `json:"dropped"`
	// Ready counts the claimable schemas when it finished.
	Ready int `json:"ready"`
	// Err is the failure of the fill that Apply ran after the reference (nil from FillPool, which
	// returns it).
	Err error `json:"-"`
}

// poolSize is the number of pooled schemas to keep.
func (e *Engine) poolSize() int {
	if e.opts.PoolSize > 0 {
		return e.opts.PoolSize
	}
	if d := e.set.Config.Dynamic; d != nil {
		return d.Pool
	}
	return 0
}

// refState is the reference as a pool filler sees it.
type refState struct {
	exists   bool
	recorded string // the fingerprint in its record, "" for none
	source   string // the fingerprint of its catalog (cloneFingerprint), "" when it does not exist
}

// readRef reads the reference's record and catalog fingerprint in tx.
func readRef(ctx context.Context, tx *sql.Tx, ref string) (refState, error) {
	var st refState
	var err error
	if st.exists, st.recorded, err = refRecord(ctx, tx, ref); err != nil || !st.exists {
		return st, err
	}
	k, err := cloneFingerprint(ctx, tx, ref)
	st.source = k.fingerprint
	return st, err
}

// refRecord reads whether the reference's schema exists and the fingerprint its record holds
// ("" without a record).
func refRecord(ctx context.Context, tx *sql.Tx, ref string) (exists bool, recorded string, err error) {
	err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1),
		coalesce((SELECT fingerprint FROM public.pgschemas_schema_state WHERE schema_name = $1), '')`, ref).Scan(&exists, &recorded)
	return exists, recorded, err
}

// FillPool brings the pool to its size: it drops the pooled schemas that are behind (filled at
// another fingerprint than the reference's record, or from an older catalog of the reference, for
// example before a function was added to it by hand) or beyond the size, then clones the
// reference into new pooled schemas until Size of them are current. Each pooled schema is cloned in
// a transaction of its own that holds the apply lock shared, as a creation does, so an apply waits
// for it and claims go on meanwhile; concurrent fillers take turns on a lock of their own.
//
// It refuses with ErrPoolUnsafe when the reference names its own schema as text, naming the
// objects, and with ErrReferenceBehind when the reference is not at the apps' desired state (run
// apply first); ErrNoPool when the pool size is 0 and nothing is pooled. It never changes the
// reference. The reference's rows are copied as they are at the fill: after reseeding the
// reference, drop the pool (pool = 0, then fill) or recreate the reference, whose catalog
// fingerprint then changes.
func (e *Engine) FillPool(ctx context.Context) (*PoolFill, error) {
	fill, err := e.fillPool(ctx)
	if err != nil {
		return fill, fmt.Errorf("schemaset: pool fill: %w", err)
	}
	return fill, nil
}

func (e *Engine) fillPool(ctx context.Context) (*PoolFill, error) {
	fill := &PoolFill{}
	ref, size := e.set.Config.Reference(), e.poolSize()
	if ref == "" {
		return fill, fmt.Errorf("%w: the dynamic block has no clone_reference", ErrNoPool)
	}
	if err := e.ensureRegistry(ctx); err != nil {
		return fill, err
	}
	want := e.set.Fingerprint(Target{Schema: ref, Kind: KindReference})
	var unsafe []string
	err := inTx(ctx, e.db, func(tx *sql.Tx) error {
		st, err := e.lockPool(ctx, tx, ref)
		if err != nil {
			return err
		}
		// Behind (or the reference is gone): drop. Claims lock only current rows, and a row a
		// claim holds is skipped here, since the claim deletes it anyway.
		stale, err := queryStrings(ctx, tx, `SELECT schema_name FROM public.pgschemas_pool
			WHERE NOT (fingerprint = $1 AND source = $2) ORDER BY schema_name FOR UPDATE SKIP LOCKED`, st.recorded, st.source)
		if err != nil {
			return err
		}
		// Beyond the size: the OFFSET is taken in a subquery without a lock, because PostgreSQL
		// locks the rows that an OFFSET skips too, and claims would then skip those current rows
		// and clone instead for as long as this transaction runs.
		surplus, err := queryStrings(ctx, tx, `SELECT schema_name FROM public.pgschemas_pool
			WHERE schema_name IN (SELECT schema_name FROM public.pgschemas_pool
				WHERE fingerprint = $1 AND source = $2 ORDER BY schema_name DESC OFFSET $3)
			ORDER BY schema_name FOR UPDATE SKIP LOCKED`, st.recorded, st.source, size)
		if err != nil {
			return err
		}
		for _, s := range append(stale, surplus...) {
			if err := dropPooled(ctx, tx, s); err != nil {
				return err
			}
			fill.Dropped = append(fill.Dropped, s)
		}
		if size == 0 || !st.exists {
			return nil
		}
		if err := setLocal(ctx, tx, "search_path", e.searchPath(ref)); err != nil {
			return err
		}
		unsafe, err = queryStrings(ctx, tx, embeddedNameSQL, ref, `\m`+ref+`\M`)
		return err
	})
	switch {
	case err != nil:
		return fill, err
	case size == 0 && len(fill.Dropped) == 0:
		return fill, fmt.Errorf("%w: dynamic { pool } is 0", ErrNoPool)
	case len(unsafe) > 0:
		return fill, fmt.Errorf("%w: reference %q: %s; a pooled copy renamed to a tenant would still point at its pool name. Qualify nothing with the schema's name (the search path finds the tenant's objects), or set dynamic { pool = 0 }",
			ErrPoolUnsafe, ref, strings.Join(unsafe, ", "))
	}
	for size > 0 {
		var name string
		done := false
		err := inTx(ctx, e.db, func(tx *sql.Tx) error {
			st, err := e.lockPool(ctx, tx, ref)
			if err != nil {
				return err
			}
			if !st.exists || st.recorded != want {
				return fmt.Errorf("%w: reference %q is not at these apps' fingerprint %s; run apply first", ErrReferenceBehind, ref, want[:12])
			}
			var ready, next int
			if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM public.pgschemas_pool WHERE fingerprint = $1 AND source = $2),
				(SELECT coalesce(max(substr(nspname, $3)::bigint), 0) + 1 FROM pg_catalog.pg_namespace WHERE nspname ~ '^pgschemas_pool_[0-9]+$')`,
				want, st.source, len(PoolPrefix)+1).Scan(&ready, &next); err != nil {
				return err
			}
			fill.Ready = ready
			if ready >= size {
				done = true
				return nil
			}
			name = PoolPrefix + strconv.Itoa(next)
			if _, err := tx.ExecContext(ctx, `INSERT INTO public.pgschemas_pool (schema_name, fingerprint, source) VALUES ($1, $2, $3)`,
				name, want, st.source); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(name)); err != nil {
				return err
			}
			if err := e.cloneInTx(ctx, tx, ref, name, cloneWithRows); err != nil {
				return err
			}
			if err := e.citusDistribute(ctx, tx, name); err != nil {
				return err
			}
			// The clone leaves the search path at name's. Anything that names a pooled schema as
			// text would survive the claim's rename: never let it into the pool.
			bad, err := queryStrings(ctx, tx, embeddedNameSQL, name, `\m`+PoolPrefix+`[0-9]+\M`)
			if err != nil {
				return err
			}
			if len(bad) > 0 {
				return fmt.Errorf("%w: the copy of %q names a pooled schema as text in: %s", ErrPoolUnsafe, ref, strings.Join(bad, ", "))
			}
			fill.Ready = ready + 1
			return nil
		})
		if err != nil {
			return fill, err
		}
		if done {
			break
		}
		fill.Filled = append(fill.Filled, name)
		if err := ctx.Err(); err != nil {
			return fill, err
		}
	}
	return fill, nil
}

// lockPool takes, for the rest of tx, the apply lock shared (with the engine's limits) and the
// fillers' lock, and reads the reference.
func (e *Engine) lockPool(ctx context.Context, tx *sql.Tx, ref string) (refState, error) {
	if err := e.lockSharedLimited(ctx, tx); err != nil {
		return refState{}, err
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(poolLockKey)); err != nil {
		return refState{}, err
	}
	return readRef(ctx, tx, ref)
}

// dropPooled drops a pooled schema and its row.
func dropPooled(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM public.pgschemas_pool WHERE schema_name = $1`, name); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(name)+" CASCADE")
	return err
}

// claim takes a current pooled schema for the new tenant t, inside the creation's transaction tx
// (which holds the apply lock shared): it deletes one pool row at the apps' fingerprint, skipping
// those that concurrent claims hold, and renames its schema to t's name. It reports false, having
// changed nothing, when no such row is free, or when this engine keeps no pool (a config with
// pool = 0 creates as if there were none; the next apply or fill drops what is left). If tx rolls
// back, the row and the schema are back in the pool.
func (e *Engine) claim(ctx context.Context, tx *sql.Tx, t Target) (bool, error) {
	if e.poolSize() == 0 || e.set.Config.Reference() == "" {
		return false, nil
	}
	var pooled string
	err := tx.QueryRowContext(ctx, `DELETE FROM public.pgschemas_pool WHERE schema_name = (
			SELECT schema_name FROM public.pgschemas_pool WHERE fingerprint = $1
			ORDER BY schema_name LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING schema_name`, e.set.Fingerprint(t)).Scan(&pooled)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim a pooled schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "ALTER SCHEMA "+quoteIdent(pooled)+" RENAME TO "+quoteIdent(t.Schema)); err != nil {
		if isSQLState(err, "42P06") { // duplicate_schema
			return false, fmt.Errorf("%w: schema %q exists (without a tenant row); drop it or choose another name", ErrTenantExists, t.Schema)
		}
		return false, fmt.Errorf("claim pooled schema %q: %w", pooled, err)
	}
	e.opts.logger().DebugContext(ctx, "claimed a pooled schema", "pooled", pooled, "tenant", t.Schema)
	return true, nil
}

// claimed wakes the background refiller, if one runs; it never blocks.
func (e *Engine) claimed() {
	select {
	case e.refill <- struct{}{}:
	default:
	}
}

// RefillInBackground keeps the pool full from a goroutine: it fills the pool (FillPool) once at
// start, and again after each CreateTenant of this engine that claimed a pooled schema, until ctx
// ends. A failed fill is logged (Options.Logger) and tried again after the next claim. wait blocks
// until the goroutine has returned; call it after ending ctx, so that nothing outlives the caller.
// Run one per engine: claims wake one refiller, and fills on one database take turns anyway.
func (e *Engine) RefillInBackground(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if fill, err := e.FillPool(ctx); err != nil && ctx.Err() == nil {
				e.opts.logger().WarnContext(ctx, "refill the pool", "err", err)
			} else if err == nil && len(fill.Filled) > 0 {
				e.opts.logger().DebugContext(ctx, "refilled the pool", "filled", len(fill.Filled), "ready", fill.Ready)
			}
			select {
			case <-ctx.Done():
				return
			case <-e.refill:
			}
		}
	}()
	return func() { <-done }
}

// PoolStatus reports the pooled schemas and how many a creation can claim now.
func (e *Engine) PoolStatus(ctx context.Context) (*PoolStatus, error) {
	if err := e.ensureRegistry(ctx); err != nil {
		return nil, err
	}
	out := &PoolStatus{Size: e.poolSize(), Schemas: []PoolSchema{}}
	err := inTx(ctx, e.db, func(tx *sql.Tx) error {
		st := refState{}
		if ref := e.set.Config.Reference(); ref != "" {
			var err error
			if st, err = readRef(ctx, tx, ref); err != nil {
				return err
			}
		}
		want := e.set.Fingerprint(Target{Kind: KindDynamic})
		return sqlrows.Each(ctx, tx, `SELECT schema_name, fingerprint, source, filled_at FROM public.pgschemas_pool ORDER BY schema_name`, func(rows *sql.Rows) error {
			var p PoolSchema
			var source string
			if err := rows.Scan(&p.Schema, &p.Fingerprint, &source, &p.FilledAt); err != nil {
				return err
			}
			p.Current = st.exists && p.Fingerprint == want && source == st.source
			if p.Current {
				out.Ready++
			}
			out.Schemas = append(out.Schemas, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("schemaset: pool status: %w", err)
	}
	return out, nil
}

// keepPool runs after an apply: when the apply brought the reference to its state (or found it
// there), it fills the pool, which drops the pooled schemas that fell behind and clones new ones.
// It does nothing when the run did not include the reference, or there is no pool to keep.
func (e *Engine) keepPool(ctx context.Context, report *Report) {
	ref := e.set.Config.Reference()
	if ref == "" {
		return
	}
	included := false
	for _, r := range report.Results {
		if r.Schema == ref && r.Kind == KindReference {
			if r.Err != nil || r.Outcome == OutcomeSkipped {
				return
			}
			included = true
		}
	}
	if !included {
		return
	}
	if e.poolSize() == 0 {
		var pooled bool
		if err := e.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM public.pgschemas_pool)`).Scan(&pooled); err == nil && !pooled {
			return
		}
	}
	fill, err := e.FillPool(ctx)
	if fill == nil {
		fill = &PoolFill{}
	}
	fill.Err = err
	report.Pool = fill
}

// embeddedNameSQL lists the objects of the schema $1 whose text matches the regular expression
// $2 (case-insensitive): function bodies (plain and BEGIN ATOMIC) and their SET options, views and
// materialized views, column defaults, constraints (of tables and domains), triggers (with their
// arguments), rules, policies and index expressions. Run it with $1 first on the search path, so
// that PostgreSQL renders $1's own objects unqualified and what remains of its name is text.
const embeddedNameSQL = `WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1),
texts(what, body) AS (
	SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END || p.oid::regprocedure::text,
		concat_ws(' ', p.prosrc, array_to_string(p.proconfig, ' '), pg_catalog.pg_get_function_sqlbody(p.oid))
	FROM ns, pg_catalog.pg_proc p WHERE p.pronamespace = ns.oid
	UNION ALL
	SELECT CASE c.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || c.relname, pg_catalog.pg_get_viewdef(c.oid)
	FROM ns, pg_catalog.pg_class c WHERE c.relnamespace = ns.oid AND c.relkind IN ('v', 'm')
	UNION ALL
	SELECT 'default of ' || c.relname || '.' || a.attname, pg_catalog.pg_get_expr(d.adbin, d.adrelid)
	FROM ns, pg_catalog.pg_class c JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid
		JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
	WHERE c.relnamespace = ns.oid
	UNION ALL
	SELECT 'constraint ' || k.conname || ' on ' || coalesce(c.relname, t.typname), pg_catalog.pg_get_constraintdef(k.oid)
	FROM ns, pg_catalog.pg_constraint k LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
		LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
	WHERE k.connamespace = ns.oid
	UNION ALL
	SELECT 'trigger ' || g.tgname || ' on ' || c.relname, pg_catalog.pg_get_triggerdef(g.oid, true)
	FROM ns, pg_catalog.pg_class c JOIN pg_catalog.pg_trigger g ON g.tgrelid = c.oid
	WHERE c.relnamespace = ns.oid AND NOT g.tgisinternal
	UNION ALL
	SELECT 'rule ' || r.rulename || ' on ' || c.relname, pg_catalog.pg_get_ruledef(r.oid, true)
	FROM ns, pg_catalog.pg_class c JOIN pg_catalog.pg_rewrite r ON r.ev_class = c.oid
	WHERE c.relnamespace = ns.oid AND r.rulename <> '_RETURN'
	UNION ALL
	SELECT 'policy ' || p.polname || ' on ' || c.relname,
		concat_ws(' ', pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
	FROM ns, pg_catalog.pg_class c JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid
	WHERE c.relnamespace = ns.oid
	UNION ALL
	SELECT 'index ' || c.relname, concat_ws(' ', pg_catalog.pg_get_expr(i.indexprs, i.indrelid), pg_catalog.pg_get_expr(i.indpred, i.indrelid))
	FROM ns, pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
	WHERE c.relnamespace = ns.oid
)
SELECT what FROM texts WHERE body ~* $2 ORDER BY what`

// queryStrings runs a query that returns one text column.
func queryStrings(ctx context.Context, q sqlrows.Querier, query string, args ...any) ([]string, error) {
	var out []string
	err := sqlrows.Each(ctx, q, query, func(rows *sql.Rows) error {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	}, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}
