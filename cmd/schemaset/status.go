package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

// statusFlags are the flags of status.
type statusFlags struct {
	sel              selectorFlags
	verify           bool
	detailedExitcode bool
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
run are listed under it. status exits 0 whatever the states are, unless --detailed-exitcode is
given: it then exits 3 when a schema is pending, missing or drifted, 0 when all are up to date.

With --json the states are snake_case, as every JSON value: up_to_date, pending, missing, drifted.`,
		Example: `  schemaset status
  schemaset status --dynamic --verify
  schemaset status --json
  schemaset status --verify --detailed-exitcode   # exit 3 on drift`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runStatus(ctx, flags)
		}),
	}
	cmd.Flags().SortFlags = false
	flags.sel.register(cmd.Flags())
	cmd.Flags().BoolVar(&flags.verify, "verify", false, "inspect and diff each schema, to find drift")
	cmd.Flags().BoolVar(&flags.detailedExitcode, "detailed-exitcode", false, "exit 3 when a schema is pending, missing or drifted, 0 when all are up to date")
	return cmd
}

// jsonStatus is the --json data of status.
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
		for _, st := range []schemaset.State{schemaset.StateUpToDate, schemaset.StatePending, schemaset.StateMissing, schemaset.StateDrifted} {
			totals[st] = 0
		}
		for _, s := range states {
			totals[s.State]++
		}
		citus, err := eng.Citus(ctx)
		if err != nil {
			return err
		}
		err = a.emit(jsonStatus{Schemas: states, Totals: totals, Citus: citus}, func(w io.Writer) error {
			if citus != nil {
				fmt.Fprintln(w, citus)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			if citus != nil {
				fmt.Fprintln(tw, "SCHEMA\tKIND\tSTATE\tNODE")
			} else {
				fmt.Fprintln(tw, "SCHEMA\tKIND\tSTATE")
			}
			for _, s := range states {
				state := strings.ReplaceAll(string(s.State), "_", " ")
				if citus != nil {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Schema, s.Kind, state, cmp.Or(s.Node, "-"))
				} else {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Schema, s.Kind, state)
				}
				for _, c := range s.Changes {
					fmt.Fprintf(tw, "\t\t  %s\n", oneLine(c))
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err := fmt.Fprintf(w, "status: %d up to date, %d pending, %d missing, %d drifted\n",
				totals[schemaset.StateUpToDate], totals[schemaset.StatePending],
				totals[schemaset.StateMissing], totals[schemaset.StateDrifted])
			return err
		})
		if err != nil {
			return err
		}
		if flags.detailedExitcode && totals[schemaset.StateUpToDate] < len(states) {
			return &exitError{code: exitChanges}
		}
		return nil
	})
}
