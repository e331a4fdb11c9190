package schemaset

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// Placement is where a distributed schema lives on a Citus cluster, with what Citus knows of its
// size and load.
type Placement struct {
	Schema string `json:"schema"`
	// Node is the worker (or the coordinator) that holds the schema's tables, as host:port;
	// empty for a distributed schema without tables, which Citus places with its first table.
	Node string `json:"node"`
	// Bytes is the size of the schema's tables on their node (Citus' shard sizes).
	Bytes int64 `json:"bytes"`
	// Stats is the tenant's load in citus_stat_tenants (queries and reads through the
	// coordinator, in Citus' current and last periods); nil when Citus does not track it
	// (citus.stat_tenants_track = 'none', the default) or saw no query yet.
	Stats *CitusTenantStats `json:"stats,omitempty"`
}

// CitusTenantStats are one tenant's counters of citus_stat_tenants.
type CitusTenantStats struct {
	ReadsThisPeriod   int64 `json:"reads_this_period"`
	ReadsLastPeriod   int64 `json:"reads_last_period"`
	QueriesThisPeriod int64 `json:"queries_this_period"`
	QueriesLastPeriod int64 `json:"queries_last_period"`
	// CPU time of the tenant's queries, in seconds.
	CPUThisPeriod float64 `json:"cpu_seconds_this_period"`
	CPULastPeriod float64 `json:"cpu_seconds_last_period"`
}

// nodesOf returns the node (host:port) of each distributed schema among names, from Citus'
// metadata on the coordinator (no round trip to the workers). A schema that is not distributed,
// or has no table yet, is absent.
func (e *Engine) nodesOf(ctx context.Context, names []string) (map[string]string, error) {
	out := map[string]string{}
	err := sqlrows.Each(ctx, e.db, `SELECT n.nspname, min(nd.nodename || ':' || nd.nodeport)
		FROM pg_catalog.pg_namespace n
		JOIN pg_catalog.pg_dist_schema ds ON ds.schemaid = n.oid
		JOIN pg_catalog.pg_dist_partition p ON p.colocationid = ds.colocationid
		JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid = p.logicalrelid
		JOIN pg_catalog.pg_dist_placement pl ON pl.shardid = s.shardid
		JOIN pg_catalog.pg_dist_node nd ON nd.groupid = pl.groupid
		WHERE n.nspname = ANY ($1::text[])
		GROUP BY n.nspname`, func(rows *sql.Rows) error {
		var name, node string
		if err := rows.Scan(&name, &node); err != nil {
			return err
		}
		out[name] = node
		return nil
	}, names)
	if err != nil {
		return nil, fmt.Errorf("schemaset: read the Citus placements: %w", err)
	}
	return out, nil
}

// Placements returns where each of the named schemas lives, with its size and Citus' per-tenant
// statistics, in the order given; a schema that is not distributed is left out. It fails with
// ErrNotCitus on plain PostgreSQL. Sizes come from the workers (one round trip to each).
func (e *Engine) Placements(ctx context.Context, names []string) ([]Placement, error) {
	if err := e.requireCitus(ctx); err != nil {
		return nil, err
	}
	byName := map[string]*Placement{}
	var order []*Placement
	err := sqlrows.Each(ctx, e.db, `SELECT t.name, coalesce(min(sh.nodename || ':' || sh.nodeport), ''), coalesce(sum(sh.shard_size), 0)::bigint
		FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
		JOIN pg_catalog.pg_namespace n ON n.nspname = t.name
		JOIN pg_catalog.pg_dist_schema ds ON ds.schemaid = n.oid
		LEFT JOIN pg_catalog.citus_shards sh ON sh.colocation_id = ds.colocationid
		GROUP BY t.name, t.i ORDER BY t.i`, func(rows *sql.Rows) error {
		p := &Placement{}
		if err := rows.Scan(&p.Schema, &p.Node, &p.Bytes); err != nil {
			return err
		}
		byName[p.Schema] = p
		order = append(order, p)
		return nil
	}, names)
	if err != nil {
		return nil, fmt.Errorf("schemaset: read the Citus placements: %w", err)
	}
	err = sqlrows.Each(ctx, e.db, `SELECT tenant_attribute, sum(read_count_in_this_period), sum(read_count_in_last_period),
			sum(query_count_in_this_period), sum(query_count_in_last_period),
			sum(cpu_usage_in_this_period), sum(cpu_usage_in_last_period)
		FROM pg_catalog.citus_stat_tenants WHERE tenant_attribute = ANY ($1::text[]) GROUP BY tenant_attribute`, func(rows *sql.Rows) error {
		var name string
		var s CitusTenantStats
		if err := rows.Scan(&name, &s.ReadsThisPeriod, &s.ReadsLastPeriod, &s.QueriesThisPeriod, &s.QueriesLastPeriod,
			&s.CPUThisPeriod, &s.CPULastPeriod); err != nil {
			return err
		}
		if p := byName[name]; p != nil {
			p.Stats = &s
		}
		return nil
	}, names)
	if err != nil {
		return nil, fmt.Errorf("schemaset: read citus_stat_tenants: %w", err)
	}
	out := make([]Placement, len(order))
	for i, p := range order {
		out[i] = *p
	}
	return out, nil
}

// requireCitus fails with ErrNotCitus unless the database is a Citus coordinator.
func (e *Engine) requireCitus(ctx context.Context) error {
	if err := e.ensureRegistry(ctx); err != nil {
		return err
	}
	if !e.onCitus() {
		return fmt.Errorf("schemaset: %w", ErrNotCitus)
	}
	return nil
}

// TransferMode is how Citus copies a schema to its new node (citus.shard_transfer_mode).
type TransferMode string

const (
	// TransferAuto: logical replication when every table has a primary key or replica identity
	// (writes wait only for the final switch), else Citus refuses the move.
	TransferAuto TransferMode = "auto"
	// TransferLogical: logical replication even for tables without a replica identity, whose
	// UPDATEs and DELETEs fail during the move.
	TransferLogical TransferMode = "force_logical"
	// TransferBlockWrites: a plain copy, with writes to the schema blocked (they wait) for the
	// whole move; reads go on.
	TransferBlockWrites TransferMode = "block_writes"
)

// ParseTransferMode checks a transfer mode's name; "" is TransferAuto.
func ParseTransferMode(s string) (TransferMode, error) {
	switch m := TransferMode(s); m {
	case "":
		return TransferAuto, nil
	case TransferAuto, TransferLogical, TransferBlockWrites:
		return m, nil
	}
	return "", fmt.Errorf("schemaset: transfer mode %q: want %s, %s or %s", s, TransferAuto, TransferLogical, TransferBlockWrites)
}

// MoveOptions tune MoveTenant.
type MoveOptions struct {
	// Mode is the transfer mode; zero is TransferAuto.
	Mode TransferMode
	// NoProbe skips the measure of the write-blocking window (MoveResult.WriteBlocked).
	NoProbe bool
}

// MoveResult is what MoveTenant did.
type MoveResult struct {
	Schema string       `json:"schema"`
	From   string       `json:"from"`
	To     string       `json:"to"`
	Mode   TransferMode `json:"mode"`
	Bytes  int64        `json:"bytes"`
	// Duration is the whole move, as citus_schema_move took it.
	Duration time.Duration `json:"duration_ns"`
	// WriteBlocked is the longest time a write to the schema waited during the move, as measured
	// by a probe: a write of no row to one of its tables, through the coordinator, repeated on a
	// connection of its own while the move runs (zero with NoProbe, or for a schema without
	// tables). With TransferBlockWrites it is about the whole move; with logical replication,
	// the final switch.
	WriteBlocked time.Duration `json:"write_blocked_ns"`
	// Probes counts the probe writes.
	Probes int `json:"probes"`
}

// ErrSameNode: the schema already lives on the target node.
var ErrSameNode = errors.New("the schema is already on that node")

// MoveTenant moves a distributed schema (a tenant, static or dynamic, or the reference) to the
// node to (host:port, one of Citus' nodes) with citus_schema_move. Reads go on during the move;
// writes wait while Citus blocks them (see TransferMode), and none is lost. It holds the apply lock
// shared while it runs, so that it neither runs during an apply nor lets one start. It fails with
// ErrNotCitus on plain PostgreSQL, and with ErrSameNode when the schema is there already.
func (e *Engine) MoveTenant(ctx context.Context, name, to string, opts MoveOptions) (*MoveResult, error) {
	if err := driver.CheckSchemaName(name); err != nil {
		return nil, fmt.Errorf("schemaset: move: %w", err)
	}
	mode, err := ParseTransferMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	host, port, err := splitNode(to)
	if err != nil {
		return nil, err
	}
	if err := e.requireCitus(ctx); err != nil {
		return nil, err
	}
	res := &MoveResult{Schema: name, To: net.JoinHostPort(host, strconv.Itoa(port)), Mode: mode}
	pl, err := e.Placements(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	if len(pl) == 0 {
		return nil, fmt.Errorf("schemaset: move %q: not a distributed schema", name)
	}
	res.From, res.Bytes = pl[0].Node, pl[0].Bytes
	if res.From == res.To {
		return res, fmt.Errorf("schemaset: move %q to %s: %w", name, res.To, ErrSameNode)
	}
	unlock, err := e.lockSharedSession(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var probe *writeProbe
	if !opts.NoProbe {
		if probe, err = e.startProbe(ctx, name); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	_, err = e.db.ExecContext(ctx, `SELECT pg_catalog.citus_schema_move($1::regnamespace, $2, $3, $4::citus.shard_transfer_mode)`,
		name, host, port, string(mode))
	res.Duration = time.Since(start)
	if probe != nil {
		res.WriteBlocked, res.Probes = probe.stop()
	}
	if err != nil {
		return res, fmt.Errorf("schemaset: move %q from %s to %s (%s): %w", name, res.From, res.To, mode, err)
	}
	e.opts.logger().InfoContext(ctx, "moved a schema", "schema", name, "from", res.From, "to", res.To, "mode", mode,
		"duration", res.Duration, "write_blocked", res.WriteBlocked)
	return res, nil
}

// splitNode parses host:port.
func splitNode(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", 0, fmt.Errorf("schemaset: node %q: want HOST:PORT", s)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("schemaset: node %q: bad port", s)
	}
	return host, port, nil
}

// lockSharedSession takes the apply lock shared on a connection of its own, for operations that
// cannot run in a transaction block (a move by logical replication); unlock releases it.
func (e *Engine) lockSharedSession(ctx context.Context) (func(), error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("schemaset: take the apply lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock_shared($1)", int64(applyLockKey)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("schemaset: wait for a running apply: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock_shared($1)", int64(applyLockKey)); err != nil {
			_ = conn.Raw(func(any) error { return sqldriver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

// writeProbe measures how long writes to a schema wait: it repeats a write of no row (an UPDATE
// whose only match would be the tuple id (0,0), which never exists) to one of the schema's tables
// on a connection of its own, and keeps the longest time one took.
type writeProbe struct {
	cancel  context.CancelFunc
	done    chan struct{}
	longest time.Duration
	count   int
}

func (e *Engine) startProbe(ctx context.Context, schema string) (*writeProbe, error) {
	var table, column sql.NullString
	err := e.db.QueryRowContext(ctx, `SELECT c.relname, a.attname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity <> 'a'
		WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'
		ORDER BY c.relname, a.attnum LIMIT 1`, schema).Scan(&table, &column)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("schemaset: pick a table to probe: %w", err)
	}
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("schemaset: probe writes: %w", err)
	}
	col := quoteIdent(column.String)
	q := fmt.Sprintf("UPDATE %s.%s SET %s = %s WHERE ctid = '(0,0)'::tid", quoteIdent(schema), quoteIdent(table.String), col, col)
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &writeProbe{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer conn.Close()
		for pctx.Err() == nil {
			start := time.Now()
			// A fresh context: a probe that waits on the move must finish to measure the wait.
			_, err := conn.ExecContext(context.WithoutCancel(pctx), q)
			took := time.Since(start)
			if err != nil {
				return
			}
			p.count++
			p.longest = max(p.longest, took)
			select {
			case <-pctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return p, nil
}

// stop ends the probe after its write in flight, and returns the longest wait and the count.
func (p *writeProbe) stop() (time.Duration, int) {
	p.cancel()
	<-p.done
	return p.longest, p.count
}

// citusNodes fills in each status' Node on a Citus coordinator.
func (e *Engine) citusNodes(ctx context.Context, states []SchemaStatus) error {
	if !e.onCitus() {
		return nil
	}
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = s.Schema
	}
	nodes, err := e.nodesOf(ctx, names)
	if err != nil {
		return err
	}
	for i := range states {
		states[i].Node = nodes[states[i].Schema]
	}
	return nil
}
