package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/internal/pgcluster"
)

// What the demo makes is named after the machine and the process that made it:
// pgschemas_demo_<host>_<pid>_<random> for a database, pgschemas-demo-<host>-<pid>-<random> for a
// throwaway server's folder and a container. A demo that is killed (kill -9) cannot clean up;
// the next demo on the same machine finds its leftovers by name, sees that their process is gone,
// and removes them. Another machine's, or a running demo's, are never touched.

// demoHost is a short hash of the machine's name, so that demos on several machines may share a
// server.
var demoHost = func() string {
	name, _ := os.Hostname()
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:3])
}()

// demoName is "pgschemas" sep "demo" sep host sep pid, the start of each name the demo makes.
func demoName(sep string) string {
	return "pgschemas" + sep + "demo" + sep + demoHost + sep + strconv.Itoa(os.Getpid())
}

var demoNameRE = regexp.MustCompile(`^pgschemas([_-])demo[_-]([0-9a-f]{6})[_-]([0-9]+)[_-]`)

// demoLeftover reports whether name is what a demo of this machine made, and that demo's process
// is gone.
func demoLeftover(name string) bool {
	m := demoNameRE.FindStringSubmatch(name)
	if m == nil || m[2] != demoHost {
		return false
	}
	pid, err := strconv.Atoi(m[3])
	return err == nil && pid != os.Getpid() && !processRuns(pid)
}

// removeLeftoverDatabases drops the databases of killed demos on admin's server.
func removeLeftoverDatabases(ctx context.Context, admin *pgx.ConnConfig, out io.Writer) error {
	conn, err := pgx.ConnectConfig(ctx, admin.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_catalog.pg_database WHERE datname LIKE 'pgschemas\_demo\_%' ORDER BY 1`)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if !demoLeftover(name) {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			errs = append(errs, fmt.Errorf("drop %s: %w", name, err))
			continue
		}
		fmt.Fprintf(out, "dropped the database %s, left by a demo that was killed\n", name)
	}
	return errors.Join(errs...)
}

// removeLeftoverClusters stops the throwaway servers of killed demos (immediate mode: they hold
// nothing worth a checkpoint) and removes their folders.
func removeLeftoverClusters(ctx context.Context, bin string, as *pgcluster.OSUser, out io.Writer) error {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgschemas-demo-*"))
	var errs []error
	for _, dir := range dirs {
		if !demoLeftover(filepath.Base(dir)) {
			continue
		}
		c := &pgcluster.Cluster{Bin: bin, Dir: dir, As: as}
		if err := c.Stop(ctx, "immediate"); err != nil && processRuns(c.PID()) {
			errs = append(errs, fmt.Errorf("stop the server in %s: %w", dir, err))
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "removed %s and stopped its server, left by a demo that was killed\n", dir)
	}
	return errors.Join(errs...)
}
