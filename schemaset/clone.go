package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/driver"
)

// ErrReferenceBehind: the reference schema exists but is not at the apps' desired state (its record
// is missing or holds another fingerprint), so a tenant cloned from it would be behind. Nothing was
// created; run an apply (or createrefschema) first.
var ErrReferenceBehind = errors.New("the reference schema is not at the apps' desired state")

// Clone copies the non-public schema src to the new schema dst, in one transaction: tables with
// their columns, defaults, identity and generated columns, collations, storage settings and
// comments, their constraints and indexes, partitions, sequences (continuing after src's values),
// enum and composite types, domains, collations, views, materialized views, functions and
// procedures, triggers, rules, row level security and its policies, and every table's rows. See
// cloneInTx for how, and for what is rewritten to dst and what is not.
//
// With asTenant, dst also gets a tenant row (and the name must pass the tenant rules), inherits
// src's record and steps, and, with strict = true, its own role (roles.go). dst must not exist: an existing dst (even one created concurrently) is
// ErrTenantExists and is left untouched. On any failure nothing is left.
//
// With asTenant, Options.OnEvent receives EventCreated (Source SourceCopied) or EventFailed.
func (e *Engine) Clone(ctx context.Context, src, dst string, asTenant bool) (err error) {
	if asTenant {
		start := time.Now()
		defer func() {
			e.event(start, Event{Kind: EventCreated, Op: OpCreateTenant, Schema: dst, SchemaKind: KindDynamic, Source: SourceCopied}, err)
		}()
	}
	if err := driver.CheckSchemaName(src); err != nil {
		return fmt.Errorf("schemaset: clone: source: %w", err)
	}
	check := driver.CheckSchemaName
	if asTenant {
		check = e.set.CheckTenantName
	}
	if err := check(dst); err != nil {
		return fmt.Errorf("schemaset: clone: destination: %w", err)
	}
	if t, ok := e.set.KindOf(dst); ok {
		return fmt.Errorf("schemaset: clone: destination %q is the set's %s %q", dst, t.Kind, t.Schema)
	}
	if err := e.ensureRegistry(ctx); err != nil {
		return err
	}
	err = inTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := e.lockSharedLimited(ctx, tx); err != nil {
			return err
		}
		if asTenant {
			if err := e.insertTenant(ctx, tx, dst, nil); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(dst)); err != nil {
			// 23505: another transaction created the schema at the same time and committed first.
			if isSQLState(err, "42P06") || isSQLState(err, "23505") {
				return fmt.Errorf("%w: schema %q exists; it was left untouched", ErrTenantExists, dst)
			}
			return err
		}
		if err := e.cloneInTx(ctx, tx, src, dst, cloneWithRows); err != nil {
			return err
		}
		if err := e.citusDistribute(ctx, tx, dst); err != nil {
			return err
		}
		if asTenant {
			// dst is where src was: it inherits src's record and steps, so an apply inspects it
			// only if src was behind.
			for _, q := range []string{
				`INSERT INTO public.pgschemas_schema_state (schema_name, kind, fingerprint, apps)
					SELECT $2, 'dynamic', fingerprint, apps FROM public.pgschemas_schema_state WHERE schema_name = $1`,
				`INSERT INTO public.pgschemas_step (schema_name, app, step)
					SELECT $2, app, step FROM public.pgschemas_step WHERE schema_name = $1`,
			} {
				if _, err := tx.ExecContext(ctx, q, src, dst); err != nil {
					return err
				}
			}
			return e.grantTenantRole(ctx, tx, dst)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("schemaset: clone %q to %q: %w", src, dst, err)
	}
	return nil
}

// cloneInTx recreates src in the existing, empty schema dst, with src's rows, inside tx, and leaves
// the search path at dst's.
//
// The script (generateClone) is SQL generated from src's catalog with PostgreSQL's own
// pg_get_*def functions, in dependency order (pg_depend), in phases: types, sequences, functions,
// tables with their checks and keys, partitions and views; then the rows (INSERT ... SELECT from
// src, into tables that have no foreign key, index or trigger yet), the sequences' values (setval
// from src's last_value) and materialized views' contents; then indexes, foreign keys inside the
// schema, triggers, rules, policies; and last the foreign keys to other schemas' tables, whose
// lock on those tables (SHARE ROW EXCLUSIVE, to add the key's triggers) is the one thing that
// concurrent creations wait for each other on. It installs nothing on the server.
//
// The script does not depend on dst (it holds a placeholder for its name), so it is cached per
// engine and source, keyed by a fingerprint of src's catalog rows (cloneFingerprintSQL, a few
// milliseconds): a creation costs the fingerprint query and one multi-statement Exec of the
// whole script (the simple protocol: one round trip). A cached script that fails with an unknown
// name (an object outside src that it names was renamed) is generated again and retried once.
//
// What is rewritten from src to dst: every object the script creates is qualified with dst; what
// PostgreSQL renders (column types, defaults and generation expressions, constraints, indexes,
// views, triggers, rules, policies, partition bounds, BEGIN ATOMIC function bodies) is rendered
// with src first on the search path, so that src's objects print unqualified and resolve, on
// replay with dst first, to dst's copies, while objects of other schemas print as they resolve (a
// foreign key to public.plans keeps pointing at public.plans); a function's SET search_path entries
// that name src; and, in other function bodies, a qualified name src.x where x is one of src's
// tables, views, sequences, indexes, types or functions, outside string literals and comments.
//
// What is not: names inside string literals (dynamic SQL in EXECUTE, trigger arguments), an
// unqualified name in a function body (it resolves at run time through the caller's search path,
// which the driver sets to the tenant), a body's alias or variable named like src followed by a
// field named like one of src's objects (rewritten as if it were the schema), and what depends on
// roles: owners and grants are not copied (dst's objects belong to the role that clones, and
// default privileges apply), nor is the comment on the schema itself.
//
// Some kinds of object cannot be cloned, and make the clone fail with an error that names each:
// aggregates, operators, operator classes and families, base and range types, text search
// objects, conversions, statistics objects, foreign tables, typed tables, inheritance other than
// partitioning, partitions of other schemas' tables, objects that belong to an extension, and a
// dependency cycle that no order of whole objects breaks (a column default that calls one of
// src's functions, which may use the table's row type, is set after the table, as pg_dump does).
//
// With cloneStructure, it copies no rows, sequence values or materialized views' contents.
func (e *Engine) cloneInTx(ctx context.Context, tx *sql.Tx, src, dst string, what cloneContent) error {
	fp, err := cloneFingerprint(ctx, tx, src)
	if err != nil {
		return err
	}
	cache := e.clones
	script, cached := cache.get(fp)
	if !cached {
		if script, err = e.generateClone(ctx, tx, src, fp); err != nil {
			return err
		}
		cache.put(fp, script)
	}
	err = replayClone(ctx, tx, script.render(dst, what), e.onCitus())
	if err == nil || !cached || ctx.Err() != nil || !staleName(err) {
		return err
	}
	// The cached script names something that changed outside src: generate it again from the
	// catalog as it is now, and retry.
	cache.drop(fp)
	if script, err = e.generateClone(ctx, tx, src, fp); err != nil {
		return err
	}
	if err := replayClone(ctx, tx, script.render(dst, what), e.onCitus()); err != nil {
		return err
	}
	cache.put(fp, script)
	return nil
}

// staleName reports whether err is an error of SQLSTATE class 42 (an undefined or ambiguous name,
// among others), which a cached script gives when an object outside the source was renamed.
func staleName(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "42")
}

// cloneStmtError says which statement of a clone failed.
type cloneStmtError struct {
	stmt string
	err  error
}

func (e *cloneStmtError) Error() string {
	return fmt.Sprintf("statement %q: %v", oneLine(e.stmt), e.err)
}

func (e *cloneStmtError) Unwrap() error { return e.err }

const cloneSavepoint = "pgschemas_clone"

// replayClone runs a script rendered for its destination as one multi-statement Exec (the simple protocol: one round trip)
// under a savepoint. On failure it rolls back to the savepoint, so that tx stays usable, and,
// unless the context ended, runs the statements one by one to name the one that fails, then rolls
// back again.
//
// With oneByOne (on a Citus coordinator) it runs the statements one Exec each: Citus refuses a
// multi-statement query whose INSERT ... SELECT reads a distributed schema ("cannot insert
// multiple commands into a prepared statement", from the worker).
func replayClone(ctx context.Context, tx *sql.Tx, stmts []string, oneByOne bool) error {
	var err error
	if oneByOne {
		err = execEach(ctx, tx, append(append([]string{"SAVEPOINT " + cloneSavepoint}, stmts...), "RELEASE SAVEPOINT "+cloneSavepoint))
	} else {
		all := "SAVEPOINT " + cloneSavepoint + ";\n" + strings.Join(stmts, ";\n") + ";\nRELEASE SAVEPOINT " + cloneSavepoint
		_, err = tx.ExecContext(ctx, all)
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	back := "ROLLBACK TO SAVEPOINT " + cloneSavepoint
	if _, rerr := tx.ExecContext(ctx, back); rerr != nil {
		return errors.Join(err, rerr)
	}
	for _, s := range stmts {
		if _, serr := tx.ExecContext(ctx, s); serr != nil {
			if _, rerr := tx.ExecContext(ctx, back); rerr != nil {
				return errors.Join(&cloneStmtError{stmt: s, err: serr}, rerr)
			}
			return &cloneStmtError{stmt: s, err: serr}
		}
	}
	// Statement by statement, the script went through: report the first error, and undo.
	if _, rerr := tx.ExecContext(ctx, back); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// cloneKey identifies a generated script: the source schema's name and oid and the fingerprint
// of its catalog rows.
type cloneKey struct {
	src         string
	oid         uint32
	fingerprint string
}

// cloneScripts caches the generated scripts of one engine.
type cloneScripts struct {
	mu sync.Mutex
	m  map[cloneKey]*cloneScript
}

func (c *cloneScripts) get(k cloneKey) (*cloneScript, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[k]
	return s, ok
}

// put stores a script, replacing the scripts of older fingerprints of the same source.
func (c *cloneScripts) put(k cloneKey, s *cloneScript) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for old := range c.m {
		if old.src == k.src {
			delete(c.m, old)
		}
	}
	c.m[k] = s
}

func (c *cloneScripts) drop(k cloneKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}
