package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

// The Citus commands: tenant move and rebalance, and the Citus parts of status, apply and tenant
// list (see "Scaling out with Citus" in the README).

// sayCitus prints one line naming the Citus coordinator, when the database is one.
func (a *app) sayCitus(ctx context.Context, eng *schemaset.Engine) error {
	citus, err := eng.Citus(ctx)
	if err != nil || citus == nil {
		return err
	}
	fmt.Fprintln(a.stdout, citus)
	return nil
}

// writePlacements prints tenant list's table on a Citus coordinator.
func writePlacements(w io.Writer, names []string, pl []schemaset.Placement) error {
	byName := map[string]schemaset.Placement{}
	for _, p := range pl {
		byName[p.Schema] = p
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tNODE\tBYTES\tQUERIES\tREADS")
	for _, n := range names {
		p, ok := byName[n]
		node, bytes, queries, reads := "-", "-", "-", "-"
		if ok {
			node, bytes = cmp.Or(p.Node, "-"), strconv.FormatInt(p.Bytes, 10)
		}
		if p.Stats != nil {
			queries, reads = strconv.FormatInt(p.Stats.QueriesThisPeriod, 10), strconv.FormatInt(p.Stats.ReadsThisPeriod, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n, node, bytes, queries, reads)
	}
	return tw.Flush()
}

// tenantMoveFlags are the flags of tenant move.
type tenantMoveFlags struct {
	to      string
	mode    string
	noProbe bool
}

func (a *app) tenantMoveCmd() *cobra.Command {
	var flags tenantMoveFlags
	cmd := &cobra.Command{
		Use:   "move NAME --to HOST:PORT [--mode auto|force_logical|block_writes]",
		Short: "Move a tenant's schema to another Citus node",
		Long: `move moves the distributed schema NAME (a dynamic or static tenant, or the reference) to the Citus node
HOST:PORT with citus_schema_move, and reports how long it took and the longest time a write to the
tenant waited. Reads go on during the move; writes wait while Citus blocks them, and none is lost:
with --mode block_writes for the whole copy, with logical replication (auto, the default, which needs
a primary key or replica identity on every table, or force_logical) for the final switch only. The
window is measured by a probe: a write of no row to one of the tenant's tables, repeated on a
connection of its own during the move (--no-probe skips it). move waits for a running apply, and an
apply waits for it. It needs a Citus coordinator.`,
		Example: `  schemaset tenant move acme --to 10.0.0.12:5432
  schemaset tenant move acme --to 10.0.0.12:5432 --mode block_writes`,
		Args: exactArgs("NAME"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runTenantMove(ctx, args[0], flags)
		}),
	}
	cmd.Flags().StringVar(&flags.to, "to", "", "the target node, HOST:PORT, as Citus names it (schemaset status lists them)")
	cmd.Flags().StringVar(&flags.mode, "mode", "auto", "the transfer mode: auto, force_logical or block_writes")
	cmd.Flags().BoolVar(&flags.noProbe, "no-probe", false, "do not measure the write-blocking window")
	return cmd
}

func (a *app) runTenantMove(ctx context.Context, name string, flags tenantMoveFlags) error {
	if flags.to == "" {
		return usageErrorf("tenant move %q: --to HOST:PORT is required", name)
	}
	mode, err := schemaset.ParseTransferMode(flags.mode)
	if err != nil {
		return usageErrorf("--mode: %w", err)
	}
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		res, err := eng.MoveTenant(ctx, name, flags.to, schemaset.MoveOptions{Mode: mode, NoProbe: flags.noProbe})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "moved %q from %s to %s (%s, %d bytes) in %s; writes blocked at most %s (%d probes)\n",
			res.Schema, res.From, res.To, res.Mode, res.Bytes, res.Duration.Round(time.Millisecond),
			res.WriteBlocked.Round(time.Millisecond), res.Probes)
		return nil
	})
}

// rebalanceFlags are the flags of rebalance.
type rebalanceFlags struct {
	mode   string
	dryRun bool
}

func (a *app) rebalanceCmd() *cobra.Command {
	var flags rebalanceFlags
	cmd := &cobra.Command{
		Use:   "rebalance [--mode auto|force_logical|block_writes] [--dry-run]",
		Short: "Spread the tenants' schemas over the Citus nodes",
		Long: `rebalance runs Citus' rebalancer: it prints the moves of its plan (each a schema, from a node to
another, with its size), starts them as a Citus background job (citus_rebalance_start) and follows it
to the end, printing its progress. --dry-run prints the plan only. Each move blocks writes to its
schema as "tenant move" does, in the transfer mode --mode. It waits for a running apply, and an apply
waits for it. Interrupted, it stops following; the job goes on (citus_rebalance_stop() cancels it).`,
		Example: `  schemaset rebalance --dry-run
  schemaset rebalance --mode block_writes`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runRebalance(ctx, flags)
		}),
	}
	cmd.Flags().StringVar(&flags.mode, "mode", "auto", "the transfer mode of each move: auto, force_logical or block_writes")
	cmd.Flags().BoolVar(&flags.dryRun, "dry-run", false, "print the planned moves and move nothing")
	return cmd
}

func (a *app) runRebalance(ctx context.Context, flags rebalanceFlags) error {
	mode, err := schemaset.ParseTransferMode(flags.mode)
	if err != nil {
		return usageErrorf("--mode: %w", err)
	}
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		plan, err := eng.Rebalance(ctx, schemaset.RebalanceOptions{Mode: mode, DryRun: true})
		if err != nil {
			return err
		}
		for _, m := range plan.Moves {
			fmt.Fprintf(a.stdout, "move %q from %s to %s (%d bytes)\n", m.Schema, m.From, m.To, m.Bytes)
		}
		if len(plan.Moves) == 0 {
			fmt.Fprintln(a.stdout, "rebalance: the nodes are balanced; nothing to move")
			return nil
		}
		if flags.dryRun {
			fmt.Fprintf(a.stdout, "rebalance: %d move(s) planned (dry run)\n", len(plan.Moves))
			return nil
		}
		res, err := eng.Rebalance(ctx, schemaset.RebalanceOptions{Mode: mode, OnProgress: func(p schemaset.RebalanceProgress) {
			fmt.Fprintf(a.stderr, "rebalance: %d/%d task(s) done (%s)\n", p.Done, p.Total, p.State)
		}})
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "rebalance: job %d %s, %d/%d task(s) in %s\n", res.Job, res.Final.State, res.Final.Done, res.Final.Total,
			res.Duration.Round(time.Millisecond))
		return nil
	})
}
