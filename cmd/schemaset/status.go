package main

import (
	"cmp"
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

// statusFlags are the flags of status.
type statusFlags struct {
	sel    selectorFlags
	verify bool
	json   bool
}

func (a *app) statusCmd() *cobra.Command {
	var flags statusFlags
	cmd := &cobra.Command{
		Use:   "status [flags]",
		Short: "Say where each selected schema stands: up to date, pending, missing or drifted",
		Long: `status prints, for each selected schema (all of them by default), whether it is up to date with its
apps, pending (the apps changed since it was last applied, or it never was), or missing (no such schema).
It reads the recorded state in one query and inspects nothing.

With --verify it also inspects each existing schema and diffs it against its apps: a schema recorded as
up to date whose tables differ (a change made by hand) is drifted, and the statements that apply would
run are listed under it. status exits 0 whatever the states are.`,
		Example: `  schemaset status
  schemaset status --dynamic --verify
  schemaset status --json`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runStatus(ctx, flags)
		}),
	}
	cmd.Flags().SortFlags = false
	flags.sel.register(cmd.Flags())
	cmd.Flags().BoolVar(&flags.verify, "verify", false, "inspect and diff each schema, to find drift")
	cmd.Flags().BoolVar(&flags.json, "json", false, "print one JSON document: per-schema states and totals")
	return cmd
}

// jsonStatus is the --json document of status.
type jsonStatus struct {
	Schemas []schemaset.SchemaStatus `json:"schemas"`
	Totals  map[schemaset.State]int  `json:"totals"`
	// Citus is the Citus coordinator the database is; absent on plain PostgreSQL.
	Citus *schemaset.Citus `json:"citus,omitempty"`
}

func (a *app) runStatus(ctx context.Context, flags statusFlags) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		targets, err := flags.sel.selectAll(ctx, eng)
		if err != nil {
			return err
		}
		states, err := eng.Status(ctx, targets, flags.verify)
		if err != nil {
			return err
		}
		totals := map[schemaset.State]int{}
		for _, s := range states {
			totals[s.State]++
		}
		citus, err := eng.Citus(ctx)
		if err != nil {
			return err
		}
		if flags.json {
			return writeJSON(a.stdout, jsonStatus{Schemas: states, Totals: totals, Citus: citus})
		}
		if citus != nil {
			fmt.Fprintln(a.stdout, citus)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		if citus != nil {
			fmt.Fprintln(tw, "SCHEMA\tKIND\tSTATE\tNODE")
		} else {
			fmt.Fprintln(tw, "SCHEMA\tKIND\tSTATE")
		}
		for _, s := range states {
			if citus != nil {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Schema, s.Kind, s.State, cmp.Or(s.Node, "-"))
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Schema, s.Kind, s.State)
			}
			for _, c := range s.Changes {
				fmt.Fprintf(tw, "\t\t  %s\n", oneLine(c))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "status: %d up to date, %d pending, %d missing, %d drifted\n",
			totals[schemaset.StateUpToDate], totals[schemaset.StatePending],
			totals[schemaset.StateMissing], totals[schemaset.StateDrifted])
		return nil
	})
}
