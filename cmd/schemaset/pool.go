package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

func (a *app) poolCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool COMMAND",
		Short: "Fill and show the pool of pre-cloned schemas that tenant create claims",
		Long: `pool manages the warm pool: copies of the reference schema, named pgschemas_pool_<n>, kept ready so
that "tenant create" renames one to the new tenant's name in one short transaction instead of cloning
the reference. The config's dynamic { pool = N } sets how many; apply keeps them current. Pooled
schemas have no tenant row: selectors, status, tenant list and routing never see them.`,
		Example: `  schemaset pool fill
  schemaset pool status`,
		Args: cobra.NoArgs,
		RunE: a.missingCommand("missing pool command: fill or status"),
	}
	cmd.AddCommand(a.poolFillCmd(), a.poolStatusCmd())
	return cmd
}

// poolFillFlags are the flags of pool fill.
type poolFillFlags struct {
	size int
}

func (a *app) poolFillCmd() *cobra.Command {
	var flags poolFillFlags
	cmd := &cobra.Command{
		Use:   "fill [--size N]",
		Short: "Drop the pooled schemas that are behind and clone the reference until the pool is full",
		Long: `fill brings the pool to its size (dynamic { pool = N }, or --size): it drops the pooled schemas that
are behind (filled at other apps, or from an older catalog of the reference) or beyond the size, then
clones the reference into new ones, one transaction each. It refuses a reference that names its own
schema as text (in a function body, a function's search_path, a view, a default, a constraint, a
trigger argument, a rule, a policy or an index expression), listing those objects, because a pooled
copy would keep pointing at its pool name after the rename. The reference must be up to date: run
apply first.`,
		Example: `  schemaset pool fill
  schemaset pool fill --size 50`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runPoolFill(ctx, flags)
		}),
	}
	cmd.Flags().IntVar(&flags.size, "size", 0, "the pool size, instead of the config's dynamic { pool }")
	return cmd
}

func (a *app) runPoolFill(ctx context.Context, flags poolFillFlags) error {
	if flags.size < 0 {
		return usageErrorf("--size %d: want 1 or more, or 0 for the config's pool", flags.size)
	}
	return a.withOptions(ctx, schemaset.Options{PoolSize: flags.size}, func(eng *schemaset.Engine) error {
		fill, err := eng.FillPool(ctx)
		if err != nil {
			return err
		}
		return a.emit(fill, func(w io.Writer) error {
			printPool(w, fill)
			return nil
		})
	})
}

// printPool prints the line that says what a fill did to the pool.
func printPool(w io.Writer, fill *schemaset.PoolFill) {
	fmt.Fprintf(w, "pool: %d filled, %d dropped, %d ready\n", len(fill.Filled), len(fill.Dropped), fill.Ready)
}

func (a *app) poolStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "List the pooled schemas and how many tenant create can claim",
		Long: `status lists each pooled schema, whether it is current (a creation can claim it) or behind (the next
fill or apply replaces it), and when it was filled; then the pool's size and how many are ready.`,
		Example: `  schemaset pool status
  schemaset pool status --json`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runPoolStatus(ctx)
		}),
	}
	return cmd
}

func (a *app) runPoolStatus(ctx context.Context) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		st, err := eng.PoolStatus(ctx)
		if err != nil {
			return err
		}
		return a.emit(st, func(w io.Writer) error {
			return printPoolStatus(w, st)
		})
	})
}

// printPoolStatus prints the pooled schemas as a table, then the pool's size and readiness.
func printPoolStatus(w io.Writer, st *schemaset.PoolStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEMA\tSTATE\tFILLED")
	for _, s := range st.Schemas {
		state := "behind"
		if s.Current {
			state = "current"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Schema, state, s.FilledAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "pool: %d ready of size %d, %d pooled\n", st.Ready, st.Size, len(st.Schemas))
	return nil
}
