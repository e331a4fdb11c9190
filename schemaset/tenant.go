package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/driver"
)

// CheckTenantName checks a dynamic tenant's schema name: the driver's rules (pattern, no pg_
// prefix, not public), not the engine's reserved prefix, and no clash, ignoring case, with a static
// tenant or the reference.
func (s *Set) CheckTenantName(name string) error {
	if err := driver.CheckSchemaName(name); err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(name), ReservedPrefix) {
		return &driver.SchemaError{Schema: name, Err: fmt.Errorf("%w: the prefix %q is reserved for pgschemas", driver.ErrInvalidSchemaName, ReservedPrefix)}
	}
	if t, ok := s.KindOf(name); ok {
		return &driver.SchemaError{Schema: name, Err: fmt.Errorf("%w: clashes with %s %q (names are compared ignoring case)", ErrNameClash, t.Kind, t.Schema)}
	}
	for _, x := range s.Config.ExtraSearchPaths {
		if strings.EqualFold(x, name) {
			return &driver.SchemaError{Schema: name, Err: fmt.Errorf("%w: clashes with the extra search path %q (names are compared ignoring case)", ErrNameClash, x)}
		}
	}
	return nil
}

// CreateTenant creates a dynamic tenant: in one transaction it inserts the tenant's row and domains,
// and makes its schema: by claiming a pooled schema at the apps' fingerprint when the engine
// keeps a pool (dynamic { pool }, or Options.PoolSize; see FillPool), which it renames to name, or
// else by creating the schema and filling it, by cloning the reference when one is configured and
// up to date, else from the apps. When it would clone and the reference exists but is behind the
// apps, it creates nothing and returns ErrReferenceBehind (run Apply first). The first domain is
// the primary one unless another is marked. With strict = true it also creates the tenant's role
// and its grants (roles.go). On any failure, nothing is left: no row, no domain, no schema and no
// role, and a claimed pooled schema is back in the pool. Concurrent creations never claim one
// pooled schema twice (a row lock, skipped by the others, who take another or fall back to the
// clone). After a claim it wakes the engine's RefillInBackground, if one runs.
//
// Names are unique ignoring case: a name that differs only in case from a tenant's or a schema's
// is refused (ErrNameClash). Each domain is checked and stored as AddDomain does: an invalid host
// or folder gives ErrInvalidDomain, and one that routes elsewhere ErrDomainTaken, which names
// the owner. Options.OnEvent receives EventCreated (with its Source) or EventFailed.
func (e *Engine) CreateTenant(ctx context.Context, name string, domains ...Domain) (err error) {
	start := time.Now()
	source := ""
	defer func() {
		e.event(start, Event{Kind: EventCreated, Op: OpCreateTenant, Schema: name, SchemaKind: KindDynamic, Source: source}, err)
	}()
	if e.set.Config.Dynamic == nil {
		return fmt.Errorf("schemaset: create tenant %q: %w", name, ErrNoDynamic)
	}
	if err := e.set.CheckTenantName(name); err != nil {
		return fmt.Errorf("schemaset: create tenant: %w", err)
	}
	domains, err = normalizeDomains(domains)
	if err != nil {
		return fmt.Errorf("schemaset: create tenant %q: %w", name, err)
	}
	if err := e.ensureRegistry(ctx); err != nil {
		return err
	}
	t := Target{Schema: name, Kind: KindDynamic}
	// The desired state is needed only to build from the apps: a claim or a clone does without,
	// and computing it the first time materialises the apps. Computed here, before the
	// creation's transaction, it does not need a second connection at the same time. With a pool,
	// the reference is taken to exist (fill computes it if not), to save a claim a round trip. On
	// Citus it is computed here in any case (once per engine): the computation waits for the
	// creation's turn (citusTurn), which the creation's transaction holds.
	var d *desired
	if ref := e.set.Config.Reference(); ref == "" || e.onCitus() || (e.poolSize() == 0 && !e.schemaExists(ctx, ref)) {
		states, err := e.desiredStates(ctx, []Target{t})
		if err != nil {
			return fmt.Errorf("schemaset: create tenant %q: %w", name, err)
		}
		d = states[desiredKey(t)]
	}
	claimed := false
	err = e.createTx(ctx, t, &d, func(tx *sql.Tx) error {
		if err := e.lockSharedLimited(ctx, tx); err != nil {
			return err
		}
		if err := e.insertTenant(ctx, tx, name, domains); err != nil {
			return err
		}
		var err error
		if claimed, err = e.claim(ctx, tx, t); err != nil {
			return err
		}
		source = SourceClaimed
		if !claimed {
			if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(name)); err != nil {
				if isSQLState(err, "42P06") { // duplicate_schema
					return fmt.Errorf("%w: schema %q exists (without a tenant row); drop it or choose another name", ErrTenantExists, name)
				}
				return err
			}
			if source, err = e.fill(ctx, tx, t, d); err != nil {
				return err
			}
			if err := e.citusDistribute(ctx, tx, name); err != nil {
				return err
			}
		}
		if err := e.record(ctx, tx, t); err != nil {
			return err
		}
		if _, err := e.runSteps(ctx, tx, nil, t, record{}); err != nil {
			return err
		}
		if err := e.grantTenantRole(ctx, tx, name); err != nil {
			return err
		}
		if e.opts.AfterCreate != nil {
			if err := e.opts.AfterCreate(driver.WithSchema(ctx, name), tx, name); err != nil {
				return fmt.Errorf("after-create hook: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("schemaset: create tenant %q: %w", name, err)
	}
	if claimed {
		e.claimed()
	}
	return nil
}

// errNeedDesired is returned by fill, inside a creation's transaction, when it needs the apps'
// state and was not given it.
var errNeedDesired = errors.New("schemaset: the apps' desired state is needed")

// createTx runs a creation's transaction. When fill says that it needs the apps' desired state
// (errNeedDesired), the transaction is rolled back, the state is computed in a transaction of its
// own into *d, and the creation runs again, once.
func (e *Engine) createTx(ctx context.Context, t Target, d **desired, f func(*sql.Tx) error) error {
	err := inTx(ctx, e.db, f)
	if !errors.Is(err, errNeedDesired) || *d != nil {
		return err
	}
	states, err := e.desiredStates(ctx, []Target{t})
	if err != nil {
		return err
	}
	*d = states[desiredKey(t)]
	return inTx(ctx, e.db, f)
}

// normalizeDomains returns domains in their stored form, or says which one breaks which rule.
func normalizeDomains(domains []Domain) ([]Domain, error) {
	out := make([]Domain, len(domains))
	for i, d := range domains {
		var err error
		if out[i], err = d.normalized(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// nameLockClass is the first key of the advisory locks, one per lower-cased name, that serialise
// the creations and renames of tenants whose names are equal ignoring case.
const nameLockClass = 0x70677374 // "pgst"

// claimName takes the lock of name's lower-cased form for the rest of tx, and refuses the name
// when a tenant or a schema has it in another case. (The same name exactly is refused by the
// tenant table's key, or by CREATE SCHEMA.)
func claimName(ctx context.Context, tx *sql.Tx, name string) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(lower($2)))`, int32(nameLockClass), name); err != nil {
		return err
	}
	var other, what string
	err := tx.QueryRowContext(ctx, `SELECT schema_name, 'tenant' FROM public.pgschemas_tenant WHERE lower(schema_name) = lower($1) AND schema_name <> $1
		UNION ALL SELECT nspname::text, 'schema' FROM pg_catalog.pg_namespace WHERE lower(nspname) = lower($1) AND nspname <> $1
		LIMIT 1`, name).Scan(&other, &what)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return &driver.SchemaError{Schema: name, Err: fmt.Errorf("%w: clashes with the %s %q (tenant names are compared ignoring case)", ErrNameClash, what, other)}
}

// insertTenant inserts the tenant row and its domains, which normalizeDomains returned.
func (e *Engine) insertTenant(ctx context.Context, tx *sql.Tx, name string, domains []Domain) error {
	if err := claimName(ctx, tx, name); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO public.pgschemas_tenant (schema_name) VALUES ($1)`, name); err != nil {
		if isSQLState(err, "23505") { // unique_violation
			return fmt.Errorf("%w: %q", ErrTenantExists, name)
		}
		return err
	}
	primary := -1
	for i, d := range domains {
		if d.Primary {
			primary = i
			break
		}
	}
	if primary < 0 && len(domains) > 0 {
		primary = 0
	}
	for i, d := range domains {
		d.Primary = i == primary
		if err := e.checkDomainFree(ctx, tx, d); err != nil {
			return err
		}
		if err := insertDomain(ctx, tx, name, d); err != nil {
			return fmt.Errorf("domain %s: %w", d, err)
		}
	}
	return nil
}

// fill brings a new, empty schema to the dynamic tenants' state.
//
// With a reference configured and present, it clones the reference (structure and rows, see
// cloneInTx) when the reference is recorded at the apps' current fingerprint. When the reference
// is behind (no record, or another fingerprint), it refuses with ErrReferenceBehind, which says to
// run apply first: it never builds a tenant that lacks the reference's rows or is behind, and it
// does not bring the reference up to date itself, because an engine whose apps are older than the
// database's (an old instance during a rolling deploy) would take the reference backwards.
// Creation holds the apply lock shared, so it never sees a reference halfway through an apply.
//
// Without a reference configured, or before the reference exists (no apply has created it yet),
// it runs the apps' plan, and logs a warning in the second case.
//
// It returns how it filled the schema: SourceCloned or SourceApps.
func (e *Engine) fill(ctx context.Context, tx *sql.Tx, t Target, d *desired) (string, error) {
	if ref := e.set.Config.Reference(); ref != "" {
		exists, fp, err := refRecord(ctx, tx, ref)
		if err != nil {
			return "", err
		}
		want := e.set.Fingerprint(Target{Schema: ref, Kind: KindReference})
		switch {
		case exists && fp == want:
			return SourceCloned, e.cloneInTx(ctx, tx, ref, t.Schema, cloneWithRows)
		case exists:
			recorded := "no record"
			if fp != "" {
				recorded = "recorded at fingerprint " + fp[:min(12, len(fp))]
			}
			return "", fmt.Errorf("%w: reference %q (%s) is not at these apps' fingerprint %s; run apply first, then create the tenant",
				ErrReferenceBehind, ref, recorded, want[:12])
		}
		e.opts.logger().WarnContext(ctx, "the reference schema does not exist yet; creating the tenant from the apps (run apply to create the reference)",
			"reference", ref, "tenant", t.Schema)
	}
	if d == nil {
		// The reference is missing (with a pool CreateTenant took it to exist, or it was dropped
		// since CreateTenant looked). The apps' state is not computed here: materialising them
		// waits on this transaction's own locks (public's apps reference pgschemas_tenant, which
		// has the new row), until the lock timeout. createTx computes it and runs again.
		return "", errNeedDesired
	}
	drv, err := postgres.Open(tx)
	if err != nil {
		return "", err
	}
	if err := setLocal(ctx, tx, "search_path", e.searchPath(t.Schema)); err != nil {
		return "", err
	}
	_, plan, _, err := d.diff(ctx, drv, schema.New(t.Schema), nil)
	if err != nil {
		return "", err
	}
	return SourceApps, e.execPlan(ctx, tx, plan)
}

// schemaExists reports whether the schema exists; false when that cannot be read.
func (e *Engine) schemaExists(ctx context.Context, name string) bool {
	var ok bool
	err := e.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)`, name).Scan(&ok)
	return err == nil && ok
}

// DropTenant drops a dynamic tenant: its schema with everything in it, its row, its domains and its
// records, and its strict-mode role when it has one (roles.go), in one transaction. public, static
// tenants and the reference are refused. Options.OnEvent receives EventDropped or EventFailed.
func (e *Engine) DropTenant(ctx context.Context, name string) (err error) {
	start := time.Now()
	defer func() {
		e.event(start, Event{Kind: EventDropped, Op: OpDropTenant, Schema: name, SchemaKind: KindDynamic}, err)
	}()
	if t, ok := e.set.KindOf(name); ok {
		return fmt.Errorf("schemaset: drop %q: %w: it is the set's %s %q", name, ErrNotTenant, t.Kind, t.Schema)
	}
	if err := driver.CheckSchemaName(name); err != nil {
		return fmt.Errorf("schemaset: drop tenant: %w", err)
	}
	if err := e.ensureRegistry(ctx); err != nil {
		return err
	}
	err = inTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := lockShared(ctx, tx); err != nil {
			return err
		}
		if err := e.citusTurn(ctx, tx); err != nil {
			return err
		}
		var found bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM public.pgschemas_tenant WHERE schema_name = $1 FOR UPDATE)`, name).Scan(&found); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: no tenant row", ErrNotTenant)
		}
		if e.opts.BeforeDrop != nil {
			if err := e.opts.BeforeDrop(driver.WithSchema(ctx, name), tx, name); err != nil {
				return fmt.Errorf("before-drop hook: %w", err)
			}
		}
		for _, q := range []string{
			`DELETE FROM public.pgschemas_tenant WHERE schema_name = $1`,
			`DELETE FROM public.pgschemas_schema_state WHERE schema_name = $1`,
			`DELETE FROM public.pgschemas_step WHERE schema_name = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, name); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+quoteIdent(name)+" CASCADE"); err != nil {
			return err
		}
		return dropTenantRole(ctx, tx, name)
	})
	if err != nil {
		return fmt.Errorf("schemaset: drop tenant %q: %w", name, err)
	}
	return nil
}

func isSQLState(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}
