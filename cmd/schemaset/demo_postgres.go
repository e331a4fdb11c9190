package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgcluster"
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
		path:   getenv("PATH"),
		globs:  pgcluster.BinGlobs,
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
  3. a Docker engine, to run %s with the docker command: %v.
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
// the local initdb, else in a container (docker). What it starts, undo stops and removes.
func (f postgresFinder) start(ctx context.Context, dsn string, undo *cleanups, out io.Writer) (*demoServer, error) {
	if dsn != "" {
		cfg, err := driver.ParseConfig(dsn) // takes the pgschemas_ parameters out
		if err != nil {
			return nil, fmt.Errorf("--url or DATABASE_URL: %w", err)
		}
		cc := cfg.ConnConfig
		if err := removeLeftoverDatabases(ctx, cc, out); err != nil {
			fmt.Fprintf(out, "could not remove what killed demos left: %v\n", err)
		}
		return &demoServer{kind: "url", admin: cc, about: fmt.Sprintf("the server of --url or DATABASE_URL (%s:%d)", cc.Host, cc.Port)}, nil
	}
	bin, initdbErr := f.findBin()
	var as *pgcluster.OSUser
	if initdbErr == nil {
		as, initdbErr = pgcluster.ServerUser()
	}
	if initdbErr == nil {
		if err := removeLeftoverClusters(ctx, bin, as, out); err != nil {
			fmt.Fprintf(out, "could not remove what killed demos left: %v\n", err)
		}
		return startInitdb(ctx, bin, as, undo, out)
	}
	dockerErr := f.docker(ctx)
	if dockerErr == nil {
		if err := removeLeftoverContainers(ctx, out); err != nil {
			fmt.Fprintf(out, "could not remove what killed demos left: %v\n", err)
		}
		return startContainer(ctx, undo, out)
	}
	return nil, &noServerError{initdb: initdbErr, docker: dockerErr}
}

// findBin returns the folder of an installation that has both initdb and pg_ctl (pgcluster.FindBin).
func (f postgresFinder) findBin() (string, error) { return pgcluster.FindBin(f.path, f.globs) }

// startInitdb starts a throwaway server (a pgcluster.Cluster) with bin's initdb and pg_ctl, as the
// user as (nil: the current one), in a temporary folder: the data folder, the log and the unix
// socket. It listens on a free port of 127.0.0.1, with trust authentication for the superuser
// postgres. undo stops and removes it.
func startInitdb(ctx context.Context, bin string, as *pgcluster.OSUser, undo *cleanups, out io.Writer) (*demoServer, error) {
	who := ""
	if as != nil {
		who = " (as the user " + as.Name + ": PostgreSQL refuses to run as root)"
	}
	fmt.Fprintf(out, "starting a throwaway PostgreSQL from %s%s\n", bin, who)
	// The folder's name says whose it is (demoName), so that a later demo removes it if this one
	// is killed before it can.
	c, err := pgcluster.StartCluster(ctx, pgcluster.ClusterOptions{Bin: bin, As: as, Prefix: demoName("-") + "-"})
	if err != nil {
		return nil, err
	}
	undo.add(func(context.Context) error {
		if err := os.RemoveAll(c.Dir); err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %s\n", c.Dir)
		return nil
	})
	undo.add(func(ctx context.Context) error {
		if !c.Running() {
			return nil
		}
		if err := c.Stop(ctx, "fast"); err != nil {
			return err
		}
		fmt.Fprintln(out, "stopped the throwaway PostgreSQL")
		return nil
	})
	fmt.Fprintf(out, "the throwaway PostgreSQL runs in %s\n", c.Dir)
	cc, err := pgx.ParseConfig(c.DSN())
	if err != nil {
		return nil, err
	}
	return &demoServer{kind: "initdb", admin: cc, dataDir: c.Dir, pid: c.PID(),
		about: fmt.Sprintf("the throwaway server at 127.0.0.1:%d", c.Port)}, nil
}

// createDemoDatabase creates the database pgschemas_demo_<host>_<pid>_<random> (demoName) on
// admin's server, which undo drops, and returns admin's connection to it.
func createDemoDatabase(ctx context.Context, admin *pgx.ConnConfig, undo *cleanups, out io.Writer) (*pgx.ConnConfig, error) {
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := demoName("_") + "_" + hex.EncodeToString(b[:])
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
