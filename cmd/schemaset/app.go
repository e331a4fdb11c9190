package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgschemas/pgschemas/schemaset"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a schema failed or was refused, a database error, a config error
	exitUsage   = 2 // a bad flag, a missing argument, a refused confirmation
	defaultFile = "pgschemas.hcl"
)

// app is one invocation of the CLI: where it writes, what it reads from the environment, and the
// global flags. Tests build one with their own writers.
type app struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
	// terminal reports whether stderr is a terminal, where a progress bar may be drawn.
	terminal bool

	config    string // --config
	url       string // --url; empty means $DATABASE_URL, else the libpq environment
	logFormat string // --log-format: "", text or json (logging.go)
}

// run runs the CLI with args (without the program name) and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, stdin: os.Stdin, getenv: os.Getenv, terminal: isTerminal(stderr)}
	return a.execute(ctx, args)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// execute runs args and maps the outcome to an exit code, printing the error, if any, one line
// per problem.
func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// cobra's own error: an unknown command or flag, a bad flag value, a wrong number of
		// arguments, a required or exclusive flag group. RunE errors are all exitErrors.
		ee = &exitError{code: exitUsage, err: err}
	}
	if ee.err != nil {
		a.printError(ee.err)
	}
	if ee.code == exitUsage {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ee.code
}

// printError prints err whole, one line per problem: a joined error or a config error lists
// several, and each line names its schema, app or file.
func (a *app) printError(err error) {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintln(a.stderr, "error:", line)
	}
}

// exitError carries an exit code; err is nil when the problem was already reported.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a usage error: exit code 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// errReported fails the run (exit 1) after the failures were already printed.
var errReported = &exitError{code: exitFailed}

// runE adapts a command's testable function to cobra: an error it returns is a failure (exit 1)
// unless it already carries an exit code.
func runE(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd.Context(), args)
		if err == nil {
			return nil
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return &exitError{code: exitFailed, err: err}
	}
}

func (a *app) rootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schemaset",
		Short: "Apply a pgschemas.hcl set to PostgreSQL and manage its tenants",
		Long: `schemaset brings the schemas of a database to the state that pgschemas.hcl and its apps declare:
public, the static tenants, the reference schema and every dynamic tenant. It also creates, clones and
drops tenants, runs SQL in selected schemas, and shows where each schema stands.

The database is --url, else $DATABASE_URL, else the libpq environment (PGHOST, PGPORT, PGUSER,
PGDATABASE, ...). Any connection string pgx accepts works.

Selectors (apply, plan, status, exec, whowill):
  -s, --schema NAME    a static tenant, the reference, public, a dynamic tenant, or a
                       domain[/folder] of a tenant (repeatable)
  -x, --exclude NAME   leave a schema out, written as for -s (repeatable)
      --all            every schema (the default of apply, plan and status)
      --static         public, the static tenants and the reference
      --dynamic        every dynamic tenant
      --tenants        every dynamic tenant and the reference

Exit codes: 0 done; 1 failed (a schema failed or was refused, a database or config error);
2 usage (a bad flag, a missing argument, "tenant drop" without --yes).`,
		Example: `  schemaset apply
  schemaset plan --dynamic
  schemaset tenant create acme --domain acme.example.com
  schemaset exec -s acme -c "SELECT count(*) FROM notes"`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE:          a.missingCommand("missing command"),
	}
	cmd.PersistentFlags().StringVar(&a.config, "config", "./"+defaultFile, "the set's config file; its apps folder is relative to it")
	cmd.PersistentFlags().StringVar(&a.url, "url", "", "database connection string (default $DATABASE_URL, else the libpq environment)")
	cmd.PersistentFlags().StringVar(&a.logFormat, "log-format", "", "log the engine's events (tenants created, dropped, renamed, domains changed, schemas applied or failed) to stderr as text or json")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	cmd.AddCommand(
		a.applyCmd(), a.planCmd(), a.statusCmd(), a.createRefSchemaCmd(), a.tenantCmd(), a.domainCmd(),
		a.cloneCmd(), a.execCmd(), a.whowillCmd(), a.inspectCmd(), a.demoCmd(), a.poolCmd(),
	)
	return cmd
}

// dsn returns the connection string: --url, else $DATABASE_URL, else "" (pgx then reads the libpq
// environment).
func (a *app) dsn() string {
	if a.url != "" {
		return a.url
	}
	return a.getenv("DATABASE_URL")
}

// open loads the set and connects to the database, for an engine with opts and a logger to
// stderr. The returned func closes the database.
func (a *app) open(ctx context.Context, opts schemaset.Options) (*schemaset.Engine, func(), error) {
	if err := a.checkLogFormat(); err != nil {
		return nil, nil, err
	}
	set, err := schemaset.LoadFile(a.config)
	if err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("pgx", a.dsn())
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the database: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connect to the database: %w", err)
	}
	a.engineLogging(&opts)
	// Never more connections than the workers and the lock: the server is shared with live traffic.
	db.SetMaxOpenConns(opts.Connections())
	eng := schemaset.New(set, db, opts)
	return eng, func() { db.Close() }, nil
}

// withEngine opens the engine, runs fn with it and closes it. parallel sizes the engine's workers
// (0 is the engine's default).
func (a *app) withEngine(ctx context.Context, parallel int, fn func(*schemaset.Engine) error) error {
	return a.withOptions(ctx, schemaset.Options{Parallel: parallel}, fn)
}

// withOptions is withEngine with the engine's options.
func (a *app) withOptions(ctx context.Context, opts schemaset.Options, fn func(*schemaset.Engine) error) error {
	eng, closeDB, err := a.open(ctx, opts)
	if err != nil {
		return err
	}
	defer closeDB()
	return fn(eng)
}

// missingCommand is the RunE of a command that only groups others: it prints the usage and fails
// with msg (exit 2).
func (a *app) missingCommand(msg string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(a.stderr)
		_ = cmd.Usage()
		return usageErrorf("%s", msg)
	}
}

// exactArgs is cobra.ExactArgs with names for the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usageErrorf("want %d argument(s), %s; got %d", len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// checkParallel refuses a negative --parallel.
func checkParallel(n int) error {
	if n < 0 {
		return usageErrorf("--parallel %d: want 0 (the default) or more", n)
	}
	return nil
}
