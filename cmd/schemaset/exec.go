package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

// execFlags are the flags of exec.
type execFlags struct {
	sel      selectorFlags
	command  string
	file     string
	parallel int
}

func (a *app) execCmd() *cobra.Command {
	var flags execFlags
	cmd := &cobra.Command{
		Use:   "exec (-c SQL | -f FILE) SELECTOR...",
		Short: "Run SQL in each selected schema",
		Long: `exec runs SQL (one or more statements) in each selected schema, as django-pgschemas' runschema runs a
command: each schema in a transaction of its own, with the search path set to the schema, then public.
Unqualified names therefore resolve in the schema. It needs a selector; run whowill with the same
selector first to see which schemas it picks. Every schema runs even when some fail; each failure is
printed with its schema, and exec then exits 1.

What a statement returns (a SELECT, or a statement with RETURNING) is printed under its schema's
name as an aligned table (NULL prints as an empty cell), then the number of rows; with --json each
schema's statements, with their command tag, columns and rows (text values, null for NULL).

-f - reads the SQL from standard input.`,
		Example: `  schemaset exec -s acme -c "INSERT INTO notes (body) VALUES ('hello')"
  schemaset exec --dynamic -f fix_settings.sql
  schemaset exec --tenants -x sample -c "ANALYZE"
  schemaset exec --dynamic -c "SELECT count(*) AS notes FROM notes"
  schemaset exec --dynamic -c "SELECT key, value FROM settings" --json`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runExec(ctx, flags)
		}),
	}
	cmd.Flags().SortFlags = false
	cmd.Flags().StringVarP(&flags.command, "command", "c", "", "the SQL to run")
	cmd.Flags().StringVarP(&flags.file, "file", "f", "", "a file that holds the SQL to run (- for standard input)")
	flags.sel.register(cmd.Flags())
	cmd.Flags().IntVar(&flags.parallel, "parallel", 0, "schemas worked on at once (default: the number of CPUs, 2 to 8)")
	cmd.MarkFlagsMutuallyExclusive("command", "file")
	cmd.MarkFlagsOneRequired("command", "file")
	return cmd
}

func (a *app) runExec(ctx context.Context, flags execFlags) error {
	if err := flags.sel.required("exec"); err != nil {
		return err
	}
	if err := checkParallel(flags.parallel); err != nil {
		return err
	}
	sqlText := flags.command
	if flags.file != "" {
		b, err := a.readFile(flags.file)
		if err != nil {
			return err
		}
		sqlText = string(b)
	}
	return a.withEngine(ctx, flags.parallel, func(eng *schemaset.Engine) error {
		targets, err := eng.Select(ctx, flags.sel.selector())
		if err != nil {
			return err
		}
		results, err := eng.Query(ctx, targets, sqlText, flags.parallel)
		failed := countErrors(err)
		if err != nil && interruptedBy(ctx) == 0 {
			a.printError(err)
		}
		data := jsonExec{Schemas: make([]jsonQueryResult, len(results)), Ran: len(targets) - failed, Failed: failed}
		for i, r := range results {
			data.Schemas[i] = jsonQueryResult{QueryResult: r, Error: newJSONError(r.Err)}
		}
		if eerr := a.emit(data, func(w io.Writer) error {
			if err := printRows(w, results); err != nil {
				return err
			}
			_, err := fmt.Fprintf(w, "exec: ran in %d of %s\n", data.Ran, plural(len(targets), "schema"))
			return err
		}); eerr != nil {
			return eerr
		}
		if ctx.Err() != nil {
			return &interruptedError{done: fmt.Sprintf("exec: committed in %d of %s; each schema's transaction commits whole or not at all",
				data.Ran, plural(len(targets), "schema"))}
		}
		if err != nil {
			return reported(err)
		}
		return nil
	})
}

// jsonExec is the --json data of exec: each schema's statements, their tags and rows.
type jsonExec struct {
	Schemas []jsonQueryResult `json:"schemas"`
	Ran     int               `json:"ran"`
	Failed  int               `json:"failed"`
}

type jsonQueryResult struct {
	schemaset.QueryResult
	Error *jsonError `json:"error,omitempty"`
}

// printRows prints, for each schema in order, the rows its statements returned: its name, then a
// table per statement that returns rows, and its row count.
func printRows(w io.Writer, results []schemaset.QueryResult) error {
	for _, r := range results {
		header := false
		for _, st := range r.Statements {
			if st.Columns == nil {
				continue
			}
			if !header {
				fmt.Fprintf(w, "-- %s %q\n", r.Kind, r.Schema)
				header = true
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			rule := make([]string, len(st.Columns))
			for i, c := range st.Columns {
				rule[i] = strings.Repeat("-", max(1, utf8.RuneCountInString(c)))
			}
			fmt.Fprintln(tw, strings.Join(st.Columns, "\t"))
			fmt.Fprintln(tw, strings.Join(rule, "\t"))
			for _, row := range st.Rows {
				cells := make([]string, len(row))
				for i, v := range row {
					if v != nil {
						cells[i] = cellEscaper.Replace(*v)
					}
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "(%s)\n", plural(len(st.Rows), "row"))
		}
	}
	return nil
}

// cellEscaper keeps a value on its line and in its column.
var cellEscaper = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)

// readFile reads name, or standard input for "-".
func (a *app) readFile(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(a.stdin)
	}
	return os.ReadFile(name)
}

// countErrors counts the errors that err joins: 0 for nil, 1 for a single error.
func countErrors(err error) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}

// whowillFlags are the flags of whowill.
type whowillFlags struct {
	sel selectorFlags
}

func (a *app) whowillCmd() *cobra.Command {
	var flags whowillFlags
	cmd := &cobra.Command{
		Use:   "whowill SELECTOR...",
		Short: "List the schemas a selector picks, with their kind",
		Long: `whowill prints the schemas that a selector picks, in the order apply works on them, one a line with
its kind (public, static, reference or dynamic). It needs a selector, and changes nothing: use it to
check a selector before exec.`,
		Example: `  schemaset whowill --dynamic
  schemaset whowill -s acme.example.com -s shared.example.com/globex
  schemaset whowill --all -x www`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runWhowill(ctx, flags)
		}),
	}
	flags.sel.register(cmd.Flags())
	return cmd
}

func (a *app) runWhowill(ctx context.Context, flags whowillFlags) error {
	if err := flags.sel.required("whowill"); err != nil {
		return err
	}
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		targets, err := eng.Select(ctx, flags.sel.selector())
		if err != nil {
			return err
		}
		return a.emit(struct {
			Schemas []schemaset.Target `json:"schemas"`
		}{append([]schemaset.Target{}, targets...)}, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, t := range targets {
				fmt.Fprintf(tw, "%s\t%s\n", t.Schema, t.Kind)
			}
			return tw.Flush()
		})
	})
}
