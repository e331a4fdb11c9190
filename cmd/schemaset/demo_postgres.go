package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// demoImage is the image of the demo's container when it runs one.
const demoImage = "postgres:15-alpine"

// demoServer is the PostgreSQL server the demo uses.
type demoServer struct {
	// kind is "url" (the user's server), "initdb" or "docker" (a throwaway one).
	kind string
	// admin connects to the server's maintenance database, to create and drop the demo's database.
	admin *pgx.ConnConfig
	// about says where the server is, for the user.
	about string
	// dataDir is the throwaway server's temporary folder and pid its postmaster (initdb only).
	dataDir string
	pid     int
}

// postgresFinder says where the demo looks for a server when none is configured. Tests replace it.
type postgresFinder struct {
	// path is the PATH searched for initdb first.
	path string
	// globs are the folders searched after PATH, as filepath.Glob patterns; of the folders one
	// pattern matches, the highest version goes first.
	globs []string
	// docker returns nil when a Docker engine answers.
	docker func(context.Context) error
}

// defaultPostgresFinder searches PATH, the usual install folders, and Docker.
func defaultPostgresFinder(getenv func(string) string) postgresFinder {
	return postgresFinder{
		path: getenv("PATH"),
		globs: []string{
			"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
			"/usr/pgsql-*/bin",                   // PGDG packages on RHEL, Rocky, Fedora
			"/usr/local/pgsql/bin",               // built from source
			"/opt/homebrew/opt/postgresql@*/bin", // Homebrew, Apple silicon
			"/usr/local/opt/postgresql@*/bin",    // Homebrew, Intel
			"/Applications/Postgres.app/Contents/Versions/*/bin",
		},
		docker: dockerHealth,
	}
}

// noServerError says that the demo found no server, and what to install.
type noServerError struct {
	initdb, docker error
}

func (e *noServerError) Error() string {
	return fmt.Sprintf(`error: the demo found no PostgreSQL server. It looks for, in this order:
  1. --url or DATABASE_URL: neither is set;
  2. initdb and pg_ctl, to start a throwaway server: %v;
  3. a Docker engine, to run %s with testcontainers: %v.
Do one of:
  - install PostgreSQL's server programs, then run the demo again:
      sudo apt-get install postgresql      (Debian, Ubuntu)
      sudo dnf install postgresql-server   (Fedora, RHEL)
      brew install postgresql@15           (macOS)
  - start a Docker engine (Docker Desktop, or dockerd; Podman with DOCKER_HOST set);
  - or name a server you have: --url postgres://USER@HOST:PORT/postgres (or DATABASE_URL); the demo
    creates a database of its own there and drops it on exit.
`, e.initdb, demoImage, e.docker)
}

// start returns the server for the demo: dsn's when it is set, else a throwaway one started with
// the local initdb, else with testcontainers. What it starts, undo stops and removes.
func (f postgresFinder) start(ctx context.Context, dsn string, undo *cleanups, out io.Writer) (*demoServer, error) {
	if dsn != "" {
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("--url or DATABASE_URL: %w", err)
		}
		return &demoServer{kind: "url", admin: cc, about: fmt.Sprintf("the server of --url or DATABASE_URL (%s:%d)", cc.Host, cc.Port)}, nil
	}
	bin, initdbErr := f.findBin()
	var as *osUser
	if initdbErr == nil {
		as, initdbErr = serverUser()
	}
	if initdbErr == nil {
		return startInitdb(ctx, bin, as, undo, out)
	}
	dockerErr := f.docker(ctx)
	if dockerErr == nil {
		return startContainer(ctx, undo, out)
	}
	return nil, &noServerError{initdb: initdbErr, docker: dockerErr}
}

// findBin returns the folder of an installation that has both initdb and pg_ctl: the first one on
// PATH (through a symbolic link, pg_ctl is looked for where initdb really is first), else in globs.
func (f postgresFinder) findBin() (string, error) {
	var dirs []string
	for _, d := range filepath.SplitList(f.path) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, g := range f.globs {
		matches, _ := filepath.Glob(g)
		slices.SortStableFunc(matches, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, matches...)
	}
	for _, d := range dirs {
		initdb, err := exec.LookPath(filepath.Join(d, "initdb"))
		if err != nil {
			continue
		}
		candidates := []string{d}
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			candidates = []string{filepath.Dir(real), d}
		}
		for _, c := range candidates {
			if _, err := exec.LookPath(filepath.Join(c, "pg_ctl")); err == nil {
				return c, nil
			}
		}
	}
	return "", fmt.Errorf("no initdb with a pg_ctl next to it on PATH or in %s", strings.Join(f.globs, ", "))
}

var firstNumber = regexp.MustCompile(`\d+`)

// versionOf returns the first number in an install folder's path: 15 for /usr/lib/postgresql/15/bin.
func versionOf(dir string) int {
	n, _ := strconv.Atoi(firstNumber.FindString(dir))
	return n
}

// osUser is the operating system user that runs initdb and the server.
type osUser struct {
	name     string
	uid, gid uint32
}

// serverUser returns nil when the server may run as the current user, and the postgres user when
// the current user is root, whom initdb and pg_ctl refuse.
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("initdb refuses to run as root, and there is no postgres user to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &osUser{name: u.Username, uid: uint32(uid), gid: uint32(gid)}, nil
}

// startInitdb starts a throwaway server with bin's initdb and pg_ctl, as the user as (nil: the
// current one), in a temporary folder: the data folder, the log and the unix socket. It listens on
// a free port of 127.0.0.1, with trust authentication for the superuser postgres.
func startInitdb(ctx context.Context, bin string, as *osUser, undo *cleanups, out io.Writer) (*demoServer, error) {
	dir, err := os.MkdirTemp("", "pgschemas-demo-")
	if err != nil {
		return nil, err
	}
	undo.add(func(context.Context) error {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %s\n", dir)
		return nil
	})
	who := ""
	if as != nil {
		if err := os.Chown(dir, int(as.uid), int(as.gid)); err != nil {
			return nil, err
		}
		who = " (as the user " + as.name + ": PostgreSQL refuses to run as root)"
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	fmt.Fprintf(out, "starting a throwaway PostgreSQL from %s in %s%s\n", bin, dir, who)
	// Each program runs in its own process group, so that a Ctrl-C in the terminal reaches the demo
	// only, and the demo stops the server itself.
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = demoProcAttr(as)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, bytes.TrimSpace(out))
		}
		return nil
	}
	if err := run("initdb", "--pgdata", data, "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync"); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("\n# schemaset demo: a throwaway server\nlisten_addresses = '127.0.0.1'\nport = %d\n"+
		"unix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
		port, strings.ReplaceAll(dir, "'", "''"))
	if err := appendFile(filepath.Join(data, "postgresql.conf"), conf); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(data, "postmaster.pid")
	undo.add(func(context.Context) error {
		if _, err := os.Stat(pidFile); err != nil {
			return nil // not running
		}
		if err := run("pg_ctl", "--pgdata", data, "--mode", "fast", "--wait", "stop"); err != nil {
			return err
		}
		fmt.Fprintln(out, "stopped the throwaway PostgreSQL")
		return nil
	})
	if err := ctx.Err(); err != nil { // interrupted during initdb, which Ctrl-C does not reach
		return nil, err
	}
	logFile := filepath.Join(dir, "postgres.log")
	if err := run("pg_ctl", "--pgdata", data, "--log", logFile, "--wait", "--timeout", "120", "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("%w\n%s", err, bytes.TrimSpace(log))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port))
	if err != nil {
		return nil, err
	}
	return &demoServer{kind: "initdb", admin: cc, dataDir: dir, pid: pid,
		about: fmt.Sprintf("the throwaway server at 127.0.0.1:%d", port)}, nil
}

// appendFile appends s to the file at path, which keeps its owner.
func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	return errors.Join(err, f.Close())
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dockerHealth returns nil when testcontainers reaches a Docker engine.
func dockerHealth(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics on some broken setups
			err = fmt.Errorf("%v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := testcontainers.ProviderDocker.GetProvider()
	if err != nil {
		return err
	}
	return p.Health(ctx)
}

// startContainer runs a throwaway PostgreSQL container. testcontainers' reaper removes it even when
// the demo is killed.
func startContainer(ctx context.Context, undo *cleanups, out io.Writer) (*demoServer, error) {
	fmt.Fprintf(out, "starting a throwaway PostgreSQL container (%s) with testcontainers\n", demoImage)
	ctr, err := tcpostgres.Run(ctx, demoImage, tcpostgres.WithDatabase("postgres"),
		tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword("postgres"), tcpostgres.BasicWaitStrategies())
	if ctr != nil {
		undo.add(func(context.Context) error {
			if err := testcontainers.TerminateContainer(ctr); err != nil {
				return err
			}
			fmt.Fprintln(out, "removed the PostgreSQL container")
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("start a PostgreSQL container: %w", err)
	}
	dsn, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return nil, err
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return &demoServer{kind: "docker", admin: cc, about: fmt.Sprintf("the throwaway container at %s:%d", cc.Host, cc.Port)}, nil
}

// createDemoDatabase creates the database pgschemas_demo_<random> on admin's server, which undo
// drops, and returns admin's connection to it.
func createDemoDatabase(ctx context.Context, admin *pgx.ConnConfig, undo *cleanups, out io.Writer) (*pgx.ConnConfig, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "pgschemas_demo_" + hex.EncodeToString(b[:])
	if err := adminExec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create the demo's database (its role needs CREATEDB): %w", err)
	}
	undo.add(func(ctx context.Context) error {
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return err
		}
		fmt.Fprintf(out, "dropped the database %s\n", name)
		return nil
	})
	cc := admin.Copy()
	cc.Database = name
	return cc, nil
}

// adminExec runs one statement on its own connection.
func adminExec(ctx context.Context, cc *pgx.ConnConfig, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
