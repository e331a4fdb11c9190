package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/schemaset"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a schema failed or was refused, a database error, a config error
	exitUsage   = 2 // a bad flag, a missing argument, a refused confirmation
	exitChanges = 3 // --detailed-exitcode: changes pending or drift found
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
	url       string // --url; empty means $DATABASE_URL
	json      bool   // --json
	logFormat string // --log-format: "", text or json (logging.go)

	// ctx is the context of the run, whose cause says which signal interrupted it.
	ctx context.Context
	// jsonOut is where the envelope goes under --json (stdout), while a.stdout drops the text.
	jsonOut io.Writer
	// data is what the command handed to emit, for the envelope.
	data any
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
// per problem, and under --json the envelope.
func (a *app) execute(ctx context.Context, args []string) int {
	a.ctx = ctx
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !a.json {
		// A bad flag stops the parse before a later --json is read; the envelope is still owed.
		a.json = slices.Contains(flagArgs(args), "--json")
	}
	code, err := a.outcome(cmd, err)
	if a.json {
		out := a.jsonOut
		if out == nil { // --json was seen, but the run failed before PersistentPreRunE
			out = a.stdout
		}
		if werr := writeEnvelope(out, commandName(cmd), code, err, a.data); werr != nil {
			a.printError(werr)
		}
	}
	return code
}

// outcome maps a command's error to the exit code and prints it on stderr; it returns the error
// for the envelope (nil when the run succeeded).
func (a *app) outcome(cmd *cobra.Command, err error) (int, error) {
	if err == nil {
		return exitOK, nil
	}
	if sig := interruptedBy(a.ctx); sig != 0 {
		// Whatever failed after the signal failed because of it: one line says what was done.
		ierr := &interruptedError{}
		errors.As(err, &ierr)
		ierr.sig = sig
		fmt.Fprintln(a.stderr, ierr.Error())
		return ierr.code(), ierr
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// cobra's own error: an unknown command or flag, a bad flag value, a wrong number of
		// arguments, a required or exclusive flag group. RunE errors are all exitErrors.
		ee = &exitError{code: exitUsage, err: err}
	}
	if ee.err != nil && !ee.printed {
		a.printError(ee.err)
	}
	if ee.code == exitUsage {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	if ee.code == exitChanges {
		return ee.code, nil // not a failure: --detailed-exitcode found changes
	}
	if ee.err == nil {
		return ee.code, fmt.Errorf("%s failed", commandName(cmd))
	}
	return ee.code, ee.err
}

// flagArgs returns args up to "--", after which none is a flag.
func flagArgs(args []string) []string {
	if i := slices.Index(args, "--"); i >= 0 {
		return args[:i]
	}
	return args
}

// commandName is cmd's path without the program's name: "tenant create".
func commandName(cmd *cobra.Command) string {
	if cmd == nil || !cmd.HasParent() {
		return ""
	}
	_, name, _ := strings.Cut(cmd.CommandPath(), " ")
	return name
}

// printError prints err whole, one line per problem: a joined error or a config error lists
// several, and each line names its schema, app or file.
func (a *app) printError(err error) {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintln(a.stderr, "error:", line)
	}
}

// exitError carries an exit code; err is nil, or printed is set, when the problem was already
// reported on stderr.
type exitError struct {
	code    int
	err     error
	printed bool
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

// reported fails the run (exit 1) with err, already printed on stderr, for the envelope.
func reported(err error) error { return &exitError{code: exitFailed, err: err, printed: true} }

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

The database is --url, else $DATABASE_URL; without either, commands that need a database refuse to
run. Any connection string pgx accepts works, and it may carry the pgschemas driver's parameters
(pgschemas_pooler, pgschemas_strict, pgschemas_extra_search_paths), so that one DATABASE_URL serves
the app and the CLI. "--url postgres://" takes everything from the libpq environment (PGHOST, ...).

--json prints one JSON document on stdout, whatever the command: "command", "ok", "exit_code",
"error" (with "sqlstate", "detail" and "hint" when PostgreSQL raised it), then the command's data.
--log-format text|json logs the engine's events (tenants created, dropped, renamed, domains changed,
schemas applied or failed) to stderr.

Selectors (apply, plan, status, exec, whowill):
  -s, --schema NAME    a static tenant, the reference, public, a dynamic tenant, or a
                       domain[/folder] of a tenant (repeatable)
  -x, --exclude NAME   leave a schema out, written as for -s (repeatable)
      --all            every schema (the default of apply, plan and status)
      --static         public, the static tenants and the reference
      --dynamic        every dynamic tenant
      --tenants        every dynamic tenant and the reference

Exit codes: 0 done; 1 failed (a schema failed or was refused, a database or config error);
2 usage (a bad flag, a missing argument, "tenant drop" without --yes); 3 changes pending or drift
found (plan and status with --detailed-exitcode); 130 interrupted by Ctrl-C (128 + the signal).`,
		Example: `  schemaset apply
  schemaset plan --dynamic
  schemaset tenant create acme --domain acme.example.com
  schemaset exec -s acme -c "SELECT count(*) FROM notes"`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
	}
	var showVersion bool
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if showVersion {
			return a.runVersion()
		}
		return a.missingCommand("missing command")(c, args)
	}
	cmd.PersistentPreRun = func(c *cobra.Command, _ []string) {
		if a.json && a.jsonOut == nil {
			// The envelope is the only thing on stdout; the demo's text, meant to be read while
			// it runs, goes to stderr, any other command's to nowhere.
			a.jsonOut = a.stdout
			a.stdout = io.Discard
			if c.Name() == "demo" {
				a.stdout = a.stderr
			}
		}
	}
	cmd.PersistentFlags().StringVar(&a.config, "config", "./"+defaultFile, "the set's config file; its apps folder is relative to it")
	cmd.PersistentFlags().StringVar(&a.url, "url", "", "database connection string, which may carry pgschemas_ parameters (default $DATABASE_URL)")
	cmd.PersistentFlags().BoolVar(&a.json, "json", false, "print one JSON document: command, ok, exit_code, error, and the command's data")
	cmd.PersistentFlags().StringVar(&a.logFormat, "log-format", "", "log the engine's events (tenants created, dropped, renamed, domains changed, schemas applied or failed) to stderr as text or json")
	cmd.Flags().BoolVar(&showVersion, "version", false, "print the version and VCS revision, as the version command does")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	cmd.AddCommand(
		a.applyCmd(), a.planCmd(), a.statusCmd(), a.createRefSchemaCmd(), a.tenantCmd(), a.domainCmd(),
		a.cloneCmd(), a.execCmd(), a.whowillCmd(), a.inspectCmd(), a.demoCmd(), a.poolCmd(),
		a.rebalanceCmd(), a.versionCmd(),
	)
	return cmd
}

// dsn returns the connection string: --url, else $DATABASE_URL, else "" (none given).
func (a *app) dsn() string {
	if a.url != "" {
		return a.url
	}
	return a.getenv("DATABASE_URL")
}

// errNoDatabase is the refusal of a command that needs a database when neither --url nor
// DATABASE_URL names one: libpq's defaults would pick a database the user did not choose.
var errNoDatabase = errors.New("no database: give --url or set DATABASE_URL (--url postgres:// takes PGHOST, PGUSER, ... from the environment)")

// connConfig parses the connection string as the pgschemas driver does: the pgschemas_
// parameters are checked and taken out, so that the server never sees them.
func (a *app) connConfig() (*pgx.ConnConfig, error) {
	dsn := a.dsn()
	if dsn == "" {
		return nil, &exitError{code: exitUsage, err: errNoDatabase}
	}
	cfg, err := driver.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("--url or DATABASE_URL: %w", err)
	}
	return cfg.ConnConfig, nil
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
	cc, err := a.connConfig()
	if err != nil {
		return nil, nil, err
	}
	db := stdlib.OpenDB(*cc)
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
