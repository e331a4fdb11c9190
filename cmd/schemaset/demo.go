package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

// demoTenants are the dynamic tenants the demo creates: two on subdomains of their own, one in a
// folder of a shared host. (localhost itself belongs to the sample's static tenant www.)
var demoTenants = []struct{ name, domain string }{
	{"acme", "acme.localhost"},
	{"globex", "globex.localhost"},
	{"initech", "shared.localhost/initech"},
}

// demoFlags are the flags of demo.
type demoFlags struct {
	port      int
	readyFile string
	// config is the set to apply: --config when given, else the sample's testdata/pgschemas.hcl.
	config string
}

// demoReady is what --ready-file receives once the demo serves: where it serves, and what it
// will remove on exit.
type demoReady struct {
	URL  string `json:"url"`
	Port int    `json:"port"`
	// Server is how the demo got its PostgreSQL: "url" (--url or DATABASE_URL), "initdb" or "docker".
	Server   string `json:"server"`
	Database string `json:"database"`
	// DataDir and PostgresPID are the throwaway server's folder and postmaster (initdb only).
	DataDir     string `json:"data_dir,omitempty"`
	PostgresPID int    `json:"postgres_pid,omitempty"`
}

func (a *app) demoCmd() *cobra.Command {
	var flags demoFlags
	cmd := &cobra.Command{
		Use:   "demo [--port N] [--ready-file FILE]",
		Short: "Run the quickstart: a throwaway database, three tenants and a multi-tenant web app",
		Long: `demo shows pgschemas at work in one command. It finds a PostgreSQL server, applies the sample set
(testdata/pgschemas.hcl), creates three dynamic tenants (acme.localhost, globex.localhost, and initech
in the folder shared.localhost/initech), seeds a few rows in each (testdata/seed/*.sql), and serves
a small notes app on 127.0.0.1 through httpx: an HTML page and a JSON API (GET and POST /api/notes)
per tenant, each query through the pgschemas driver, so that each tenant sees only its own notes.
It prints the curl lines to try. Ctrl-C stops it and removes everything it made, as do SIGTERM,
SIGHUP (the terminal closed) and the end of its output pipe (demo | tee log, then Ctrl-C). What it
makes is named after the machine and its process id (pgschemas_demo_<host>_<pid>_<random>, a
folder or container pgschemas-demo-<host>-<pid>-<random>): a demo that was killed with kill -9
cannot clean up, and the next demo on the machine removes what it left.

The server:
  - with --url or DATABASE_URL, that server: the demo creates a database of its own,
    pgschemas_demo_<random>, and drops it on exit; it never touches another database;
  - else a throwaway server started with the local initdb and pg_ctl (from PATH, or
    /usr/lib/postgresql/*/bin and the like) in a temporary folder, on a free port, removed on exit
    (as root, the server runs as the postgres user, since PostgreSQL refuses to run as root);
  - else a throwaway postgres:15-alpine container, run with the docker command where a Docker
    engine answers, and removed on exit;
  - else it says what to install.

Without --config it applies testdata/pgschemas.hcl of the current folder or its nearest parent that
has one, such as the root of a clone of pgschemas. Its web app expects the sample's apps.`,
		Example: `  go run ./cmd/schemaset demo
  go run ./cmd/schemaset demo --port 0 --ready-file /tmp/demo.json
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres go run ./cmd/schemaset demo`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = runE(func(ctx context.Context, _ []string) error {
		flags.config = a.config
		if !cmd.Flags().Changed("config") {
			path, err := findSampleConfig()
			if err != nil {
				return err
			}
			flags.config = path
		}
		return a.runDemo(ctx, flags, defaultPostgresFinder(a.getenv))
	})
	cmd.Flags().SortFlags = false
	cmd.Flags().IntVar(&flags.port, "port", 8080, "the port to serve on, on 127.0.0.1 (0: any free port)")
	cmd.Flags().StringVar(&flags.readyFile, "ready-file", "", "once serving, write the URL, port and database there as JSON (removed on exit)")
	return cmd
}

// findSampleConfig returns testdata/pgschemas.hcl of the current folder or of its nearest parent
// that has one, relative to the current folder when it can.
func findSampleConfig() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		path := filepath.Join(dir, "testdata", defaultFile)
		if _, err := os.Stat(path); err == nil {
			if rel, err := filepath.Rel(wd, path); err == nil {
				return rel, nil
			}
			return path, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", usageErrorf("no testdata/%s in %s or a parent folder: run the demo in a clone of pgschemas, or give --config", defaultFile, wd)
		}
		dir = parent
	}
}

// runDemo runs the demo until ctx ends (Ctrl-C), then undoes everything it did, whatever happened.
func (a *app) runDemo(ctx context.Context, flags demoFlags, finder postgresFinder) (err error) {
	if flags.port < 0 || flags.port > 65535 {
		return usageErrorf("--port %d: want 0 (any free port) to 65535", flags.port)
	}
	set, err := schemaset.LoadFile(flags.config)
	if err != nil {
		return err
	}
	if set.Config.Dynamic == nil {
		return fmt.Errorf("%s: %w; the demo creates dynamic tenants", flags.config, schemaset.ErrNoDynamic)
	}
	// The demo also stops when its output pipe closes (demo | tee log, and tee is gone): it could
	// no longer tell the user anything, and must not leave its database behind.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	watchOutput(a.stdout, stop)
	undo := &cleanups{}
	defer func() {
		if uerr := undo.run(); uerr != nil {
			a.printError(fmt.Errorf("clean up: %w", uerr))
			if err == nil {
				err = errReported
			}
		}
	}()

	srv, err := finder.start(ctx, a.dsn(), undo, a.stdout)
	var noServer *noServerError
	if errors.As(err, &noServer) {
		fmt.Fprint(a.stderr, noServer.Error())
		return errReported
	} else if err != nil {
		return err
	}
	cc, err := createDemoDatabase(ctx, srv.admin, undo, a.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "created the database %s on %s (dropped on exit)\n", cc.Database, srv.about)
	logger := slog.New(slog.NewTextHandler(a.stderr, nil))

	engDB := stdlib.OpenDB(*cc.Copy())
	opts := schemaset.Options{Logger: logger}
	engDB.SetMaxOpenConns(opts.Connections())
	undo.add(func(context.Context) error { return engDB.Close() })
	eng := schemaset.New(set, engDB, opts)
	if err := a.demoSetUp(ctx, eng, flags.config); err != nil {
		return err
	}

	appDB, err := driver.OpenDB(set.DriverConfig(cc))
	if err != nil {
		return err
	}
	appDB.SetMaxOpenConns(10)
	undo.add(func(context.Context) error { return appDB.Close() })
	res, err := resolve.New(set.Config, appDB, resolve.Options{Logger: logger})
	if err != nil {
		return err
	}
	undo.add(func(context.Context) error { return res.Close() })

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(flags.port)))
	if err != nil {
		return fmt.Errorf("serve: %w (choose another --port, or --port 0 for any free one)", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	links := demoLinks(set, port)
	web := &demoWeb{db: appDB, log: logger, port: port, links: links}
	httpSrv := &http.Server{Handler: web.handler(res), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	undo.add(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return httpSrv.Shutdown(ctx)
	})

	a.printDemoUsage(links, srv, cc, port)
	ready := demoReady{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Port: port, Server: srv.kind,
		Database: cc.Database, DataDir: srv.dataDir, PostgresPID: srv.pid}
	_ = a.emit(ready, nil) // under --json, the envelope written on exit says what the demo served
	if flags.readyFile != "" {
		if err := writeReadyFile(flags.readyFile, ready); err != nil {
			return err
		}
		undo.add(func(context.Context) error { return os.Remove(flags.readyFile) })
	}
	fmt.Fprintf(a.stdout, "ready: http://127.0.0.1:%d (Ctrl-C stops the demo and removes what it made)\n", port)

	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stdout, "stopping")
		return nil
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
}

// demoSetUp applies the set, creates the demo's tenants and seeds them.
func (a *app) demoSetUp(ctx context.Context, eng *schemaset.Engine, config string) error {
	targets, err := eng.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := eng.Apply(ctx, targets, schemaset.ApplyOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %s\n", config, summary("apply", rep, time.Since(start)))
	if err := rep.Err(); err != nil {
		return err
	}
	for _, t := range demoTenants {
		d, err := schemaset.ParseDomain(t.domain)
		if err != nil {
			return err
		}
		if err := eng.CreateTenant(ctx, t.name, d); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "created tenant %s (%s)\n", t.name, t.domain)
	}
	return a.demoSeed(ctx, eng, filepath.Join(filepath.Dir(config), "seed"))
}

// demoSeed runs dir/public.sql in public, dir/NAME.sql in the static tenant NAME, then
// dir/dynamic.sql in each dynamic tenant, each in its schema as exec does; a missing file seeds
// nothing.
func (a *app) demoSeed(ctx context.Context, eng *schemaset.Engine, dir string) error {
	type seed struct {
		file string
		sel  schemaset.Selector
	}
	seeds := []seed{{"public.sql", schemaset.Selector{Schemas: []string{"public"}}}}
	for _, st := range eng.Set().Config.Static {
		seeds = append(seeds, seed{st.Name + ".sql", schemaset.Selector{Schemas: []string{st.Name}}})
	}
	seeds = append(seeds, seed{"dynamic.sql", schemaset.Selector{Dynamic: true}})
	for _, s := range seeds {
		path := filepath.Join(dir, s.file)
		src, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		targets, err := eng.Select(ctx, s.sel)
		if err != nil {
			return err
		}
		if err := eng.Exec(ctx, targets, string(src), 0); err != nil {
			return fmt.Errorf("seed %s: %w", path, err)
		}
		names := make([]string, len(targets))
		for i, t := range targets {
			names[i] = t.Schema
		}
		fmt.Fprintf(a.stdout, "seeded %s from %s\n", strings.Join(names, ", "), path)
	}
	return nil
}

// demoLink is a tenant's home page, with what curl needs to reach it.
type demoLink struct {
	Tenant, Kind string
	Host, Folder string
	URL          string
}

// demoLinks lists the tenants of the demo: the dynamic ones, then each static tenant on its first
// domain.
func demoLinks(set *schemaset.Set, port int) []demoLink {
	var links []demoLink
	add := func(tenant, kind, host, folder string) {
		links = append(links, demoLink{Tenant: tenant, Kind: kind, Host: host, Folder: folder, URL: demoURL(host, folder, port)})
	}
	for _, t := range demoTenants {
		host, folder, _ := strings.Cut(t.domain, "/")
		add(t.name, "dynamic", host, folder)
	}
	for _, st := range set.Config.Static {
		if len(st.Domains) > 0 {
			add(st.Name, "static", st.Domains[0], "")
		}
	}
	return links
}

// demoURL returns the home page of the tenant at host and folder ("" for none) on the demo's port.
func demoURL(host, folder string, port int) string {
	u := fmt.Sprintf("http://%s:%d/", host, port)
	if folder != "" {
		u += folder + "/"
	}
	return u
}

// printDemoUsage prints the tenants' URLs and the commands to try.
func (a *app) printDemoUsage(links []demoLink, srv *demoServer, cc *pgx.ConnConfig, port int) {
	w := a.stdout
	fmt.Fprintf(w, "\nServing http://127.0.0.1:%d: each tenant sees only its own rows.\n\n", port)
	for _, l := range links {
		fmt.Fprintf(w, "  %-8s %-7s %s\n", l.Tenant, l.Kind, l.URL)
	}
	acme, globex, initech := links[0], links[1], links[2]
	// curl sends Host from the URL; --resolve makes it connect to 127.0.0.1 whatever the name
	// resolves to. -H 'Host: ...' is the other way.
	resolveFlag := func(l demoLink) string { return fmt.Sprintf("--resolve %s:%d:127.0.0.1 ", l.Host, port) }
	fmt.Fprintf(w, "\nTry (browsers resolve *.localhost to 127.0.0.1, so the URLs above open as they are):\n\n")
	fmt.Fprintf(w, "  curl %s%sapi/notes\n", resolveFlag(acme), acme.URL)
	fmt.Fprintf(w, "  curl %s%sapi/notes -H 'Content-Type: application/json' -d '{\"body\": \"hello from acme\"}'\n", resolveFlag(acme), acme.URL)
	fmt.Fprintf(w, "  curl %s%sapi/notes    # globex does not see it\n", resolveFlag(globex), globex.URL)
	fmt.Fprintf(w, "  curl -H 'Host: %s' http://127.0.0.1:%d/%s/api/notes -d body=hello    # a tenant in a folder\n", initech.Host, port, initech.Folder)
	fmt.Fprintf(w, "  curl -H 'Host: %s' http://127.0.0.1:%d/%s/\n", initech.Host, port, initech.Folder)
	for _, l := range links[len(demoTenants):] {
		fmt.Fprintf(w, "  curl -H 'Host: %s' http://127.0.0.1:%d/    # static tenant %s\n", l.Host, port, l.Tenant)
	}
	fmt.Fprintf(w, "  curl -i -H 'Host: nobody.localhost' http://127.0.0.1:%d/    # no tenant: 404\n", port)
	if srv.kind != "url" {
		fmt.Fprintf(w, "  psql -h %s -p %d -U %s %s    # \\dn lists the schemas", cc.Host, cc.Port, cc.User, cc.Database)
		if cc.Password != "" {
			fmt.Fprintf(w, "; password %s", cc.Password)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// writeReadyFile writes r as JSON to path, whole or not at all, so that a reader never sees half.
func writeReadyFile(path string, r demoReady) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = writeJSON(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// cleanups are what undoes the demo: functions run in the reverse order of add, each once, whatever
// happened before.
type cleanups struct {
	steps []func(context.Context) error
}

func (c *cleanups) add(f func(context.Context) error) { c.steps = append(c.steps, f) }

// run runs every step, the last added first, with a context of its own (the demo's has ended when
// it runs), and joins their errors.
func (c *cleanups) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(c.steps) - 1; i >= 0; i-- {
		errs = append(errs, c.steps[i](ctx))
	}
	c.steps = nil
	return errors.Join(errs...)
}
