package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pgschemas/pgschemas/schemaset"
)

// runFlags are the flags of the commands that apply or plan: apply, plan and createrefschema.
type runFlags struct {
	parallel         int
	allowDestructive bool
	continueOnError  bool
	verify           bool
	json             bool
}

// register adds the flags; plan (dryRun) always goes on after a failure, so that it shows every
// schema, and has no --continue-on-error.
func (f *runFlags) register(fs *pflag.FlagSet, dryRun bool) {
	fs.IntVar(&f.parallel, "parallel", 0, "schemas worked on at once (default: the number of CPUs, 2 to 8)")
	fs.BoolVar(&f.allowDestructive, "allow-destructive", false, "allow dropping tables and columns and lossy type changes")
	if dryRun {
		f.continueOnError = true
	} else {
		fs.BoolVar(&f.continueOnError, "continue-on-error", false, "go on with the other schemas after one fails")
	}
	fs.BoolVar(&f.verify, "verify", false, "inspect every schema, ignoring the recorded state (finds changes made by hand)")
	fs.BoolVar(&f.json, "json", false, "print one JSON document: per-schema results and totals")
}

func (f *runFlags) options() schemaset.ApplyOptions {
	return schemaset.ApplyOptions{
		AllowDestructive: f.allowDestructive,
		ContinueOnError:  f.continueOnError,
		Verify:           f.verify,
		Parallel:         f.parallel,
	}
}

// applyFlags are the flags of apply and plan.
type applyFlags struct {
	sel selectorFlags
	run runFlags
}

func (a *app) applyCmd() *cobra.Command {
	return a.withApplyFlags(&cobra.Command{
		Use:   "apply [flags]",
		Short: "Bring the selected schemas to the state their apps declare",
		Long: `apply brings each selected schema (all of them by default) to the desired state of its apps: it runs
the apps' pending one-time steps, then the changes that a diff against the live schema finds. Public
goes first, then the static tenants and the reference, then the dynamic tenants in parallel. Each schema
changes in one transaction: on failure it stays exactly as it was. A schema whose recorded state matches
its apps is not inspected; --verify inspects every one.

Changes that can lose data (dropping a table or a column, a lossy type change) are refused unless
--allow-destructive is given; a refused schema is left untouched and the run exits 1.

Output: one line per schema that changed or failed, then a summary; a progress bar on a terminal.
With --json, one JSON document instead.`,
		Example: `  schemaset apply
  schemaset apply --dynamic --parallel 8 --continue-on-error
  schemaset apply -s www --allow-destructive
  schemaset apply --json > report.json`,
	}, false)
}

func (a *app) planCmd() *cobra.Command {
	return a.withApplyFlags(&cobra.Command{
		Use:   "plan [flags]",
		Short: "Print the SQL that apply would run, per schema, and change nothing",
		Long: `plan prints, for each selected schema (all of them by default) that is not up to date, the one-time
steps and the SQL statements that apply would run. It runs them in a transaction that is rolled back,
so that the plan accounts for steps such as renames, and changes nothing.

A plan with changes that can lose data is marked refused, as apply would refuse it, and plan exits 1;
with --allow-destructive it is printed as planned. A schema that fails or is refused does not stop
the plan of the others.`,
		Example: `  schemaset plan
  schemaset plan -s acme --verify
  schemaset plan --tenants --json`,
	}, true)
}

// withApplyFlags completes apply (dryRun false) or plan (dryRun true): the same flags, and
// runApply.
func (a *app) withApplyFlags(cmd *cobra.Command, dryRun bool) *cobra.Command {
	var flags applyFlags
	cmd.Args = cobra.NoArgs
	cmd.RunE = runE(func(ctx context.Context, _ []string) error {
		return a.runApply(ctx, flags, dryRun)
	})
	cmd.Flags().SortFlags = false
	flags.sel.register(cmd.Flags())
	flags.run.register(cmd.Flags(), dryRun)
	return cmd
}

// runApply is apply (dryRun false) and plan (dryRun true).
func (a *app) runApply(ctx context.Context, flags applyFlags, dryRun bool) error {
	if err := checkParallel(flags.run.parallel); err != nil {
		return err
	}
	return a.withEngine(ctx, flags.run.parallel, func(eng *schemaset.Engine) error {
		targets, err := flags.sel.selectAll(ctx, eng)
		if err != nil {
			return err
		}
		verb, fn := "apply", eng.Apply
		if dryRun {
			verb, fn = "plan", eng.Plan
		}
		if !flags.run.json {
			if err := a.sayCitus(ctx, eng); err != nil {
				return err
			}
		}
		return a.report(ctx, verb, len(targets), flags.run, func(opts schemaset.ApplyOptions) (*schemaset.Report, error) {
			return fn(ctx, targets, opts)
		})
	})
}

// report runs one apply, plan or createrefschema over n schemas and prints its outcome: progress,
// then the plan's SQL (for plan), then the summary, or the --json document. It fails (exit 1) when
// any schema failed or was refused.
func (a *app) report(ctx context.Context, verb string, n int, flags runFlags, fn func(schemaset.ApplyOptions) (*schemaset.Report, error)) error {
	opts := flags.options()
	p := progress(quietProgress{})
	if !flags.json {
		p = a.newProgress(verb, n, verb != "plan")
	}
	opts.OnResult = p.result
	start := time.Now()
	rep, err := fn(opts)
	p.done()
	if err != nil {
		return err
	}
	took := time.Since(start)
	if flags.json {
		if err := writeJSON(a.stdout, newJSONReport(verb, rep, took)); err != nil {
			return err
		}
	} else {
		if verb == "plan" {
			a.printPlan(rep, p)
		}
		fmt.Fprintln(a.stdout, summary(verb, rep, took))
		if rep.Pool != nil {
			a.printPool(rep.Pool)
		}
	}
	if rep.Err() != nil {
		return errReported
	}
	return ctx.Err()
}

// printPlan prints each schema's steps and statements in apply order, and the failures that the
// progress did not print already.
func (a *app) printPlan(rep *schemaset.Report, p progress) {
	_, printed := p.(*barProgress)
	for _, r := range rep.Results {
		if r.Err != nil && !printed {
			a.printError(r.Err)
		}
		if len(r.Steps) == 0 && len(r.Statements) == 0 && !r.Created {
			continue
		}
		fmt.Fprintf(a.stdout, "-- %s %q: %s", r.Kind, r.Schema, describe(r))
		if r.Outcome == schemaset.OutcomeRefused {
			fmt.Fprintf(a.stdout, " (refused: %s)", strings.Join(r.Destructive, ", "))
		}
		fmt.Fprintln(a.stdout)
		if r.Created {
			fmt.Fprintf(a.stdout, "CREATE SCHEMA %s;\n", quoteIdent(r.Schema))
		}
		for _, s := range r.Steps {
			fmt.Fprintf(a.stdout, "-- step %s\n", s)
		}
		for _, s := range r.Statements {
			fmt.Fprintln(a.stdout, strings.TrimRight(s, "; \n")+";")
		}
	}
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// refFlags are the flags of createrefschema.
type refFlags struct {
	recreate bool
	run      runFlags
}

func (a *app) createRefSchemaCmd() *cobra.Command {
	var flags refFlags
	cmd := &cobra.Command{
		Use:   "createrefschema [--recreate]",
		Short: "Create the reference schema, or bring it up to date",
		Long: `createrefschema creates the reference schema that the dynamic block's clone_reference names, when it
is missing, and brings it to the dynamic tenants' desired state. New tenants are cloned from it, rows
included, while it is up to date. With --recreate it first drops the reference, with its rows, and
builds it again from the apps.`,
		Example: `  schemaset createrefschema
  schemaset createrefschema --recreate`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runCreateRefSchema(ctx, flags)
		}),
	}
	cmd.Flags().SortFlags = false
	cmd.Flags().BoolVar(&flags.recreate, "recreate", false, "drop the reference schema, with its rows, and build it again")
	cmd.Flags().BoolVar(&flags.run.allowDestructive, "allow-destructive", false, "allow dropping tables and columns and lossy type changes")
	cmd.Flags().BoolVar(&flags.run.json, "json", false, "print one JSON document: the result and totals")
	return cmd
}

func (a *app) runCreateRefSchema(ctx context.Context, flags refFlags) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		return a.report(ctx, "createrefschema", 1, flags.run, func(opts schemaset.ApplyOptions) (*schemaset.Report, error) {
			return eng.CreateReference(ctx, flags.recreate, opts)
		})
	})
}
