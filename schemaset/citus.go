package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// Scaling out with Citus.
//
// On a Citus coordinator (the citus extension, and citus_is_coordinator()), every schema the
// engine creates other than public is a distributed schema (Citus' schema-based sharding): its
// tables live whole on one worker node, the coordinator routes each query by its search_path, and
// citus_schema_move moves the schema between nodes. The engine turns
// citus.enable_schema_based_sharding on in each transaction that creates a schema (setLimits), so
// that a tenant made from the apps, by clone or as a pooled copy is distributed as it is made, and
// distributes a schema that exists but is not (citus_schema_distribute) when it applies it.
// public's app tables become reference tables (a copy on every node), so that tenant tables may
// keep foreign keys to them; the engine's registry tables stay on the coordinator.
//
// The desired state of the tenants is materialised in distributed scratch schemas too, against a
// public whose app tables are reference tables, so that app SQL or HCL that a distributed schema
// cannot hold (a foreign key to a table of the coordinator, or to another tenant's table) is
// refused by Citus itself before anything runs, with the file and line of the statement.
//
// Nothing of this happens on plain PostgreSQL: the detection is one query, once per engine.

// ErrCitusWorker: the database is a Citus worker node, not the coordinator. The engine works
// through the coordinator only, where Citus keeps its metadata.
var ErrCitusWorker = errors.New("the database is a Citus worker node; connect to the coordinator")

// ErrNotCitus: a Citus operation (a move, a rebalance) on plain PostgreSQL.
var ErrNotCitus = errors.New("the database is not a Citus coordinator")

// Citus describes the Citus coordinator that an engine's database is.
type Citus struct {
	// Version is the citus extension's version, for example "13.2-1".
	Version string `json:"version"`
	// Nodes are the active primary nodes that may hold distributed schemas, as host:port.
	Nodes []string `json:"nodes"`
}

func (c *Citus) String() string {
	return fmt.Sprintf("Citus %s coordinator, %d node(s) for tenants: %s", c.Version, len(c.Nodes), strings.Join(c.Nodes, ", "))
}

// citusState is what detectCitus found: on is false on plain PostgreSQL.
type citusState struct {
	on      bool
	version string
}

// Citus returns the Citus coordinator that the engine's database is, with its nodes as they are
// now; nil, and no error, on plain PostgreSQL. It fails with ErrCitusWorker on a worker node.
func (e *Engine) Citus(ctx context.Context) (*Citus, error) {
	if err := e.ensureRegistry(ctx); err != nil {
		return nil, err
	}
	st := e.citus.Load()
	if !st.on {
		return nil, nil
	}
	nodes, err := queryStrings(ctx, e.db, `SELECT nodename || ':' || nodeport FROM pg_catalog.pg_dist_node
		WHERE isactive AND noderole = 'primary' AND shouldhaveshards ORDER BY nodeid`)
	if err != nil {
		return nil, fmt.Errorf("schemaset: read the Citus nodes: %w", err)
	}
	return &Citus{Version: st.version, Nodes: nodes}, nil
}

// detectCitus finds out, once per engine, whether the database is a Citus coordinator.
func (e *Engine) detectCitus(ctx context.Context) error {
	if e.citus.Load() != nil {
		return nil
	}
	var version sql.NullString
	if err := e.db.QueryRowContext(ctx, `SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'`).Scan(&version); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("schemaset: look for Citus: %w", err)
	}
	st := &citusState{}
	if version.Valid {
		var coordinator bool
		if err := e.db.QueryRowContext(ctx, `SELECT pg_catalog.citus_is_coordinator()`).Scan(&coordinator); err != nil {
			return fmt.Errorf("schemaset: look for Citus: %w", err)
		}
		if !coordinator {
			return fmt.Errorf("schemaset: %w", ErrCitusWorker)
		}
		st = &citusState{on: true, version: version.String}
		e.opts.logger().DebugContext(ctx, "Citus coordinator: tenant schemas are distributed, public's app tables are reference tables", "citus", st.version)
	}
	e.citus.Store(st)
	return nil
}

// onCitus reports whether detectCitus found a coordinator (false before it ran).
func (e *Engine) onCitus() bool {
	st := e.citus.Load()
	return st != nil && st.on
}

// citusLimits is the part of setLimits that keeps the schemas a transaction creates local, whatever
// the server's setting: the engine fills a new schema on the coordinator, where its DDL, a clone's
// catalog writes and rows cost what they cost on one server, and distributes it whole at the end
// of the same transaction (citusDistribute), with its rows.
func (e *Engine) citusLimits() string {
	if !e.onCitus() {
		return ""
	}
	return ", pg_catalog.set_config('citus.enable_schema_based_sharding', 'off', true)"
}

// citusTurnKey is the advisory lock that, on a Citus coordinator, the transactions that create or
// drop tenant schemas hold in turn (citusTurn).
const citusTurnKey = 0x7067736369747573 // "pgscitus"

// citusTurn makes the transaction wait its turn among those that create or drop tenant schemas on
// a Citus coordinator, and holds it to the end of tx; it does nothing on plain PostgreSQL.
//
// Citus serialises them anyway: a new tenant's foreign keys to public's reference tables take
// SHARE ROW EXCLUSIVE on those tables (on the coordinator and on the workers' copies), which
// conflicts with itself and with the inserts of other creations' tenant rows
// (pgschemas_tenant is a reference table when a public app references it), and the transaction
// holds them while citus_schema_distribute, a distributed transaction that copies the schema to
// a worker, runs: about a second. A desired-state computation holds the same locks longer (its
// scratch copy of public references pgschemas_tenant; desiredStates takes the turn too). Left
// to wait on those locks, concurrent creations queued under the engine's lock_timeout, which is
// meant for live traffic, and failed with SQLSTATE 55P03 (TestCitusConcurrentCreations: 20 at
// once, with a 1 s timeout, by clone and from the apps; 1,000 creations 2 at a time with the 10 s
// default). Here they queue on the engine's own lock instead, before the transaction touches a
// reference table, waited for without lock_timeout (the context bounds the wait); the
// transaction's lock_timeout is then what it was, so that live traffic on public's tables still
// bounds what comes after.
func (e *Engine) citusTurn(ctx context.Context, tx *sql.Tx) error {
	if !e.onCitus() {
		return nil
	}
	var timeout string
	if err := tx.QueryRowContext(ctx, `SELECT pg_catalog.current_setting('lock_timeout')`).Scan(&timeout); err != nil {
		return fmt.Errorf("schemaset: wait for the Citus creations' turn: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL lock_timeout = 0; SELECT pg_catalog.pg_advisory_xact_lock(%d); SET LOCAL lock_timeout = %s",
		int64(citusTurnKey), quoteLiteral(timeout))); err != nil {
		return fmt.Errorf("schemaset: wait for the Citus creations' turn: %w", err)
	}
	return nil
}

// citusScratch sets whether the scratch schemas that desiredStates creates next are distributed:
// public's is not (its tables become reference tables), the others are, so that Citus refuses,
// there, what a distributed schema cannot hold.
func (e *Engine) citusScratch(ctx context.Context, tx *sql.Tx, distributed bool) error {
	if !e.onCitus() {
		return nil
	}
	v := "off"
	if distributed {
		v = "on"
	}
	return setLocal(ctx, tx, "citus.enable_schema_based_sharding", v)
}

// citusDistribute makes the schema a distributed schema when it is not one yet, inside tx, at the
// end of the transaction that made or filled it: a new tenant (from the apps, by clone, or a
// pooled copy), a schema that apply created, or one that existed before Citus. Citus moves its
// tables and rows to a worker node, or refuses what a distributed schema cannot hold (a trigger,
// a foreign key to a coordinator table), and then the whole transaction rolls back.
func (e *Engine) citusDistribute(ctx context.Context, tx *sql.Tx, schema string) error {
	if !e.onCitus() || schema == "public" {
		return nil
	}
	res, err := tx.ExecContext(ctx, `SELECT pg_catalog.citus_schema_distribute(n.oid::regnamespace) FROM pg_catalog.pg_namespace n
		WHERE n.nspname = $1 AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_schema d WHERE d.schemaid = n.oid)`, schema)
	if err != nil {
		return fmt.Errorf("distribute schema %q with Citus: %w", schema, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	// Citus copied the rows to the worker and leaves the coordinator's copy on disk, unseen: free it.
	_, err = tx.ExecContext(ctx, `SELECT pg_catalog.truncate_local_data_after_distributing_table(c.oid) FROM pg_catalog.pg_class c
		WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition`, schema)
	if err != nil {
		return fmt.Errorf("distribute schema %q with Citus: free the coordinator's copy of its rows: %w", schema, err)
	}
	return nil
}

// citusReferenceTables makes the app tables of schema (public, or the scratch schema that stands
// for it in a desired-state computation; the tables d declares) reference tables when they are not
// yet, inside tx, with the tables of schema and public they reference (pgschemas_tenant, which
// public apps may reference), referenced tables first: Citus lets a reference table reference only
// reference tables (a cascading key to a coordinator table is refused).
func (e *Engine) citusReferenceTables(ctx context.Context, tx *sql.Tx, d *desired, schema string) error {
	if !e.onCitus() || d == nil || len(d.schema.Tables) == 0 {
		return nil
	}
	// Each table of schema or public that is not a reference table, qualified, with the tables of
	// those two it references.
	refs := map[string][]string{}
	err := sqlrows.Each(ctx, tx, `SELECT c.relnamespace::regnamespace::text || '.' || pg_catalog.quote_ident(c.relname),
			coalesce(array_agg(DISTINCT r.relnamespace::regnamespace::text || '.' || pg_catalog.quote_ident(r.relname)) FILTER (WHERE r.oid <> c.oid), '{}')
		FROM pg_catalog.pg_class c
		LEFT JOIN pg_catalog.pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
		LEFT JOIN pg_catalog.pg_class r ON r.oid = k.confrelid AND r.relnamespace IN ($1::regnamespace, 'public'::regnamespace)
		WHERE c.relnamespace IN ($1::regnamespace, 'public'::regnamespace) AND c.relkind IN ('r', 'p')
			AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = c.oid AND p.repmodel = 't')
		GROUP BY c.oid, c.relnamespace, c.relname`, func(rows *sql.Rows) error {
		var name string
		var to []string
		if err := rows.Scan(&name, typeMap.SQLScanner(&to)); err != nil {
			return err
		}
		refs[name] = to
		return nil
	}, schema)
	if err != nil {
		return fmt.Errorf("read %s's tables for Citus: %w", schema, err)
	}
	// The app tables still to convert, and what they reference, transitively.
	var todo []string
	var add func(string)
	add = func(name string) {
		if _, local := refs[name]; !local || slices.Contains(todo, name) {
			return
		}
		todo = append(todo, name)
		for _, r := range refs[name] {
			add(r)
		}
	}
	for _, t := range d.schema.Tables {
		var name string // quoted as the query above quotes it
		if err := tx.QueryRowContext(ctx, "SELECT $1::regnamespace::text || '.' || pg_catalog.quote_ident($2)", schema, t.Name).Scan(&name); err != nil {
			return err
		}
		add(name)
	}
	// Referenced tables first; in a cycle of foreign keys, any one first.
	for len(todo) > 0 {
		next := max(0, slices.IndexFunc(todo, func(name string) bool {
			return !slices.ContainsFunc(refs[name], func(r string) bool { return slices.Contains(todo, r) })
		}))
		name := todo[next]
		if _, err := tx.ExecContext(ctx, `SELECT pg_catalog.create_reference_table($1::regclass)`, name); err != nil {
			return fmt.Errorf("make %s a Citus reference table: %w", name, err)
		}
		todo = slices.Delete(todo, next, next+1)
	}
	return nil
}

// citusAfterPlan runs after a schema's plan in its apply transaction: public's app tables become
// reference tables, any other schema a distributed schema.
func (e *Engine) citusAfterPlan(ctx context.Context, tx *sql.Tx, t Target, d *desired) error {
	if t.Kind == KindPublic {
		return e.citusReferenceTables(ctx, tx, d, "public")
	}
	return e.citusDistribute(ctx, tx, t.Schema)
}

// execEach runs each statement in tx, one Exec each, and stops at the first error.
func execEach(ctx context.Context, tx *sql.Tx, stmts []string) error {
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// execScript runs statements in tx: as one multi-statement Exec (the simple protocol: one round
// trip), or, on a Citus coordinator, one Exec each, because Citus propagates DDL to the workers
// with the query string it came in, and a worker refuses a string of several commands ("cannot
// insert multiple commands into a prepared statement").
func (e *Engine) execScript(ctx context.Context, tx *sql.Tx, stmts []string) error {
	if e.onCitus() {
		return execEach(ctx, tx, stmts)
	}
	_, err := tx.ExecContext(ctx, strings.Join(stmts, ";\n"))
	return err
}
