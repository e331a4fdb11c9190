package schemaset

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrDestructive: the plan of a schema drops a table or a column, or changes a type in a way
	// that can lose data, and Options.AllowDestructive is false. Nothing ran in that schema.
	ErrDestructive = errors.New("destructive change refused")
	// ErrTenantExists: a tenant or a schema with that name already exists.
	ErrTenantExists = errors.New("tenant already exists")
	// ErrNotTenant: the schema is not a dynamic tenant (public, a static tenant, the reference, or
	// unknown), so it cannot be dropped as one.
	ErrNotTenant = errors.New("not a dynamic tenant")
	// ErrNoDynamic: the config has no dynamic block, so there are no dynamic tenants.
	ErrNoDynamic = errors.New("the config declares no dynamic tenants")
	// ErrUnknownSchema: a selector names nothing in the set.
	ErrUnknownSchema = errors.New("no such schema in the set")
)

// TargetError is the failure of one schema: which schema, the statement or step that failed (empty
// when the failure was elsewhere), and the cause, kept for errors.As (for example *pgconn.PgError).
type TargetError struct {
	Target
	// Step names the one-time step ("app/0001_name") that failed, if one did.
	Step string
	// Statement is the SQL that failed, if one did.
	Statement string
	Err       error
}

func (e *TargetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", e.Kind, e.Schema)
	if e.Step != "" {
		fmt.Fprintf(&b, ": step %s", e.Step)
	}
	if e.Statement != "" {
		fmt.Fprintf(&b, ": statement %q", oneLine(e.Statement))
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *TargetError) Unwrap() error { return e.Err }

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

// Options configure an Engine. The zero value works.
type Options struct {
	// Parallel is the number of schemas worked on at once. Zero means the number of CPUs, at least
	// 2 and at most 8. The engine also holds one connection for its advisory lock, so the *sql.DB
	// needs Parallel+1 connections to run at full width.
	Parallel int
	// LockTimeout bounds how long a schema's transaction waits for a lock held by live traffic.
	// Zero means 10s.
	LockTimeout time.Duration
	// Logger receives progress and waits (for example on another apply's lock). Nil discards.
	Logger *slog.Logger
	// AfterCreate runs inside the transaction that creates a tenant, after its tables exist; its
	// ctx carries the tenant's schema (driver.WithSchema). An error rolls the creation back.
	AfterCreate func(ctx context.Context, tx *sql.Tx, tenant string) error
	// BeforeDrop runs inside the transaction that drops a tenant, before anything is dropped. An
	// error keeps the tenant.
	BeforeDrop func(ctx context.Context, tx *sql.Tx, tenant string) error
	// OnEvent, when set, receives one Event per tenant lifecycle change (created, dropped,
	// renamed, domain changed) and per schema that Apply changed or failed, once the change
	// committed or was rolled back, from the goroutine that made it: Apply's workers call it
	// concurrently, so it must be safe for concurrent use, and it should return quickly (it delays
	// the caller). LogEvents(logger) logs the events through slog (events.go).
	OnEvent func(Event)
	// PoolSize, when above zero, overrides the config's dynamic { pool }: the number of
	// pre-cloned schemas FillPool keeps (pool.go).
	PoolSize int
}

func (o Options) parallel() int {
	if o.Parallel > 0 {
		return o.Parallel
	}
	return min(max(runtime.NumCPU(), 2), 8)
}

// Connections is the number of connections a run needs at full width: one per worker and one for
// the apply lock. Size the *sql.DB with SetMaxOpenConns(Connections()) to bound what a run opens.
func (o Options) Connections() int { return o.parallel() + 1 }

func (o Options) lockTimeout() string {
	d := o.LockTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Engine applies a Set to one database. It is safe for concurrent use. It caches the desired state
// of each group of schemas for its lifetime, keyed by the apps' fingerprint.
type Engine struct {
	set  *Set
	db   *sql.DB
	opts Options

	mu      sync.Mutex
	desired map[string]*desired

	// clones caches the clone scripts generated from each source schema (clone.go).
	clones *cloneScripts
	// refill wakes RefillInBackground after a claim (pool.go).
	refill chan struct{}
	// registry is set once EnsureRegistry succeeded on db (ensureRegistry).
	registry atomic.Bool
	// citus is what detectCitus found (citus.go); nil before it ran.
	citus atomic.Pointer[citusState]
}

// New returns an engine for set on db. db is a database/sql pool on the pgx driver ("pgx") or on
// the pgschemas driver; the engine names every schema explicitly and uses no tenant context.
func New(set *Set, db *sql.DB, opts Options) *Engine {
	return &Engine{set: set, db: db, opts: opts, desired: map[string]*desired{},
		clones: &cloneScripts{m: map[cloneKey]*cloneScript{}}, refill: make(chan struct{}, 1)}
}

// Set returns the engine's set.
func (e *Engine) Set() *Set { return e.set }

// applyLockKey is the advisory lock that serialises applies on one database. Applies hold it
// exclusively; tenant creation and drop hold it shared, so that a tenant created while an apply
// runs either finishes first (and the apply then sees it) or starts after (with the new state).
const applyLockKey = 0x7067736170706c79 // "pgsapply"

// lockApply takes the apply lock on a connection of its own, waiting for another apply if one
// runs (and saying so in the log). The returned func releases it.
func (e *Engine) lockApply(ctx context.Context) (func(), error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("schemaset: take the apply lock: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", int64(applyLockKey)).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("schemaset: take the apply lock: %w", err)
	}
	if !got {
		e.opts.logger().InfoContext(ctx, "another apply or tenant change holds the lock on this database; waiting")
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(applyLockKey)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("schemaset: wait for the apply lock: %w", err)
		}
	}
	return func() {
		// A fresh context: the caller's may be done, and the lock must still go.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", int64(applyLockKey)); err != nil {
			// Closing would keep the lock on a pooled session: discard the connection instead.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

// ensureRegistry runs EnsureRegistry on the engine's database once: after its first success, the
// engine's methods skip the round trip.
func (e *Engine) ensureRegistry(ctx context.Context) error {
	if e.registry.Load() {
		return nil
	}
	if err := e.detectCitus(ctx); err != nil {
		return err
	}
	if err := EnsureRegistry(ctx, e.db); err != nil {
		return err
	}
	e.registry.Store(true)
	return nil
}

// lockShared takes the apply lock shared for the rest of tx.
func lockShared(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock_shared($1)", int64(applyLockKey)); err != nil {
		return fmt.Errorf("schemaset: take the apply lock (shared): %w", err)
	}
	return nil
}

// lockSharedLimited takes the apply lock shared for the rest of tx, on Citus waits for the
// creations' turn (citusTurn), then sets the engine's limits (setLimits): the start of each
// transaction that creates schemas beside a possible apply.
func (e *Engine) lockSharedLimited(ctx context.Context, tx *sql.Tx) error {
	if err := lockShared(ctx, tx); err != nil {
		return err
	}
	if err := e.citusTurn(ctx, tx); err != nil {
		return err
	}
	return e.setLimits(ctx, tx)
}
