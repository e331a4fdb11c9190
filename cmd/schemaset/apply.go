package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	// detailedExitcode (plan) exits 3 when a schema has changes to apply.
	detailedExitcode bool
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
	if dryRun {
		fs.BoolVar(&f.detailedExitcode, "detailed-exitcode", false, "exit 0 when nothing is to change, 3 when a schema has changes, 1 on error")
	}
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
steps and the SQL statements that apply would run, and changes no schema. It runs each schema's pending
steps in a scratch copy of the schema's structure (without its rows), in a transaction that is rolled
back, so that the plan accounts for steps such as renames; a step that would write another schema
(a qualified public table) stops that schema's plan.

A plan with changes that can lose data is marked refused, as apply would refuse it, and plan exits 1;
with --allow-destructive it is printed as planned. A schema that fails or is refused does not stop
the plan of the others.

With --detailed-exitcode, plan exits 0 when every schema is up to date, 3 when some schema has
changes to apply, 1 on an error or a refusal and 2 on a usage error, so that CI can gate a deploy.`,
		Example: `  schemaset plan
  schemaset plan -s acme --verify
  schemaset plan --tenants --json
  schemaset plan --detailed-exitcode || [ $? -eq 3 ] && echo "changes pending"`,
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
		if err := a.sayCitus(ctx, eng); err != nil { // dropped under --json, as all text
			return err
		}
		return a.report(ctx, verb, len(targets), flags.run, func(opts schemaset.ApplyOptions) (*schemaset.Report, error) {
			return fn(ctx, targets, opts)
		})
	})
}

// report runs one apply, plan or createrefschema over n schemas and prints its outcome: progress,
// then the plan's SQL (for plan), then the summary, or under --json the report as the envelope's
// data. It fails (exit 1) when any schema failed or was refused.
func (a *app) report(ctx context.Context, verb string, n int, flags runFlags, fn func(schemaset.ApplyOptions) (*schemaset.Report, error)) error {
	opts := flags.options()
	p := a.newProgress(verb, n, verb != "plan")
	opts.OnResult = p.result
	start := time.Now()
	rep, err := fn(opts)
	p.done()
	if err != nil {
		return err
	}
	took := time.Since(start)
	if _, quiet := p.(quietProgress); quiet {
		for _, r := range rep.Results {
			if r.Err != nil {
				a.printResult(r)
			}
		}
	}
	if rep.Pool != nil && rep.Pool.Err != nil && !(interruptedBy(ctx) != 0 && errors.Is(rep.Pool.Err, context.Canceled)) {
		a.printError(rep.Pool.Err)
	}
	if err := a.emit(newJSONReport(rep, took), func(w io.Writer) error {
		if verb == "plan" {
			a.printPlan(w, rep)
		}
		fmt.Fprintln(w, summary(verb, rep, took))
		if rep.Pool != nil && rep.Pool.Err == nil {
			printPool(w, rep.Pool)
		}
		return nil
	}); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return &interruptedError{done: interruptedRun(verb, rep)}
	}
	if err := rep.Err(); err != nil {
		return reported(err)
	}
	if flags.detailedExitcode && rep.Count(schemaset.OutcomePlanned) > 0 {
		return &exitError{code: exitChanges}
	}
	return nil
}

// interruptedRun says what an interrupted apply or plan completed.
func interruptedRun(verb string, rep *schemaset.Report) string {
	if verb == "plan" {
		return fmt.Sprintf("plan stopped after %d of %s; it changes nothing", rep.Count(schemaset.OutcomePlanned)+
			rep.Count(schemaset.OutcomeUpToDate)+rep.Count(schemaset.OutcomeRefused), plural(len(rep.Results), "schema"))
	}
	notDone := len(rep.Results) - rep.Count(schemaset.OutcomeApplied) - rep.Count(schemaset.OutcomeUpToDate)
	return fmt.Sprintf("%s: %d applied, %d up to date, %d not done (each schema is before or after its change, never between); run %s again to finish",
		verb, rep.Count(schemaset.OutcomeApplied), rep.Count(schemaset.OutcomeUpToDate), notDone, verb)
}

// printPlan prints each schema's steps and statements in apply order.
func (a *app) printPlan(w io.Writer, rep *schemaset.Report) {
	for _, r := range rep.Results {
		if len(r.Steps) == 0 && len(r.Statements) == 0 && !r.Created {
			continue
		}
		fmt.Fprintf(w, "-- %s %q: %s", r.Kind, r.Schema, describe(r))
		if r.Outcome == schemaset.OutcomeRefused {
			fmt.Fprintf(w, " (refused: %s)", strings.Join(r.Destructive, ", "))
		}
		fmt.Fprintln(w)
		if r.Created {
			fmt.Fprintf(w, "CREATE SCHEMA %s;\n", pgx.Identifier{r.Schema}.Sanitize())
		}
		for _, s := range r.Steps {
			fmt.Fprintf(w, "-- step %s\n", s)
		}
		for _, s := range r.Statements {
			fmt.Fprintln(w, strings.TrimRight(s, "; \n")+";")
		}
	}
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
	return cmd
}

func (a *app) runCreateRefSchema(ctx context.Context, flags refFlags) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		return a.report(ctx, "createrefschema", 1, flags.run, func(opts schemaset.ApplyOptions) (*schemaset.Report, error) {
			return eng.CreateReference(ctx, flags.recreate, opts)
		})
	})
}
