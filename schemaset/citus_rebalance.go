package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// RebalanceOptions tune Rebalance.
type RebalanceOptions struct {
	// Mode is the transfer mode of each move; zero is TransferAuto.
	Mode TransferMode
	// DryRun returns the planned moves and moves nothing.
	DryRun bool
	// OnProgress, when set, is called as the rebalance goes, with the moves done so far.
	OnProgress func(RebalanceProgress)
	// Poll is how often the progress is read; zero means 250ms.
	Poll time.Duration
}

// SchemaMove is one move of the rebalancer's plan.
type SchemaMove struct {
	Schema string `json:"schema"`
	From   string `json:"from"`
	To     string `json:"to"`
	Bytes  int64  `json:"bytes"`
}

// RebalanceProgress is where a rebalance stands.
type RebalanceProgress struct {
	// Done and Total count Citus' background tasks of the rebalance (about one per move).
	Done  int `json:"done"`
	Total int `json:"total"`
	// State is Citus' state of the job: scheduled, running, finished, failed, cancelled.
	State string `json:"state"`
}

// RebalanceResult is what Rebalance did.
type RebalanceResult struct {
	// Moves is the rebalancer's plan (get_rebalance_table_shards_plan), by schema.
	Moves []SchemaMove `json:"moves"`
	// Job is Citus' background job id; zero when nothing was to move, or with DryRun.
	Job      int64             `json:"job,omitempty"`
	Final    RebalanceProgress `json:"final"`
	Duration time.Duration     `json:"duration_ns"`
}

// Rebalance spreads the distributed schemas over the nodes with Citus' rebalancer: it reads the
// rebalancer's plan, starts it as a background job (citus_rebalance_start) and follows it to the
// end, calling OnProgress as tasks finish. It holds the apply lock shared while the job runs. A
// job that fails or is cancelled is an error. Ending ctx stops following, not the job (Citus runs
// it in the background; citus_rebalance_stop() cancels it).
func (e *Engine) Rebalance(ctx context.Context, opts RebalanceOptions) (*RebalanceResult, error) {
	mode, err := ParseTransferMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	if err := e.requireCitus(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &RebalanceResult{}
	err = sqlrows.Each(ctx, e.db, `SELECT coalesce(n.nspname, p.table_name::text), p.sourcename || ':' || p.sourceport,
			p.targetname || ':' || p.targetport, sum(p.shard_size)::bigint
		FROM pg_catalog.get_rebalance_table_shards_plan() p
		LEFT JOIN pg_catalog.pg_dist_partition dp ON dp.logicalrelid = p.table_name
		LEFT JOIN pg_catalog.pg_dist_schema ds ON ds.colocationid = dp.colocationid
		LEFT JOIN pg_catalog.pg_namespace n ON n.oid = ds.schemaid
		GROUP BY 1, 2, 3 ORDER BY 1`, func(rows *sql.Rows) error {
		var m SchemaMove
		if err := rows.Scan(&m.Schema, &m.From, &m.To, &m.Bytes); err != nil {
			return err
		}
		res.Moves = append(res.Moves, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("schemaset: rebalance: plan: %w", err)
	}
	if opts.DryRun || len(res.Moves) == 0 {
		res.Final.State = "finished"
		res.Duration = time.Since(start)
		return res, nil
	}
	unlock, err := e.lockSharedSession(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var job sql.NullInt64
	if err := e.db.QueryRowContext(ctx, `SELECT pg_catalog.citus_rebalance_start(shard_transfer_mode := $1::citus.shard_transfer_mode)`, string(mode)).Scan(&job); err != nil {
		return res, fmt.Errorf("schemaset: rebalance: start: %w", err)
	}
	if !job.Valid { // the plan changed since it was read: nothing to move
		res.Final.State = "finished"
		res.Duration = time.Since(start)
		return res, nil
	}
	res.Job = job.Int64
	poll := opts.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	last := RebalanceProgress{Done: -1}
	for {
		var p RebalanceProgress
		err := e.db.QueryRowContext(ctx, `SELECT j.state::text,
				(SELECT count(*) FROM pg_catalog.pg_dist_background_task t WHERE t.job_id = j.job_id AND t.status = 'done'),
				(SELECT count(*) FROM pg_catalog.pg_dist_background_task t WHERE t.job_id = j.job_id)
			FROM pg_catalog.pg_dist_background_job j WHERE j.job_id = $1`, job.Int64).Scan(&p.State, &p.Done, &p.Total)
		if err != nil {
			return res, fmt.Errorf("schemaset: rebalance: job %d: %w", job.Int64, err)
		}
		if p != last && opts.OnProgress != nil {
			opts.OnProgress(p)
		}
		last = p
		res.Final = p
		switch p.State {
		case "finished":
			res.Duration = time.Since(start)
			return res, nil
		case "failed", "cancelled", "failing", "cancelling":
			res.Duration = time.Since(start)
			return res, fmt.Errorf("schemaset: rebalance: job %d %s: %w (see citus_job_status(%d))", job.Int64, p.State, errRebalance, job.Int64)
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("schemaset: rebalance: stopped following job %d, which goes on: %w", job.Int64, ctx.Err())
		case <-time.After(poll):
		}
	}
}

var errRebalance = errors.New("the rebalance did not finish")
