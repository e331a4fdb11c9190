// Package pgcluster starts throwaway PostgreSQL servers with the local initdb and pg_ctl: the
// demo's embedded mode and the tests' clusters (pgtest.NewCluster). It imports no container
// library, so that the CLI, which uses it, pulls none into its users' modules.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// BinGlobs are the folders FindBin searches after PATH for initdb and pg_ctl, as filepath.Glob
// patterns; of the folders one pattern matches, the highest version goes first.
var BinGlobs = []string{
	"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
	"/usr/pgsql-*/bin",                   // PGDG packages on RHEL, Rocky, Fedora
	"/usr/local/pgsql/bin",               // built from source
	"/opt/homebrew/opt/postgresql@*/bin", // Homebrew, Apple silicon
	"/usr/local/opt/postgresql@*/bin",    // Homebrew, Intel
	"/Applications/Postgres.app/Contents/Versions/*/bin",
}

// FindBin returns the folder of an installation that has both initdb and pg_ctl: the first one in
// the folders of path (a PATH value; through a symbolic link, pg_ctl is looked for where initdb
// really is first), else in the folders globs match.
func FindBin(path string, globs []string) (string, error) {
	var dirs []string
	for _, d := range filepath.SplitList(path) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, g := range globs {
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
	return "", fmt.Errorf("no initdb with a pg_ctl next to it on PATH or in %s", strings.Join(globs, ", "))
}

var firstNumber = regexp.MustCompile(`\d+`)

// versionOf returns the first number in an install folder's path: 15 for /usr/lib/postgresql/15/bin.
func versionOf(dir string) int {
	n, _ := strconv.Atoi(firstNumber.FindString(dir))
	return n
}

// OSUser is the operating system user that runs initdb and the server.
type OSUser struct {
	Name     string
	UID, GID uint32
}

// ServerUser returns nil when a server may run as the current user, and the postgres user when the
// current user is root, whom initdb and pg_ctl refuse.
func ServerUser() (*OSUser, error) {
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
	return &OSUser{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}, nil
}

// ClusterOptions says how StartCluster makes a server. The zero value finds the programs with
// FindBin(PATH, BinGlobs) and runs them as ServerUser says.
type ClusterOptions struct {
	// Bin is the folder of initdb and pg_ctl; empty: FindBin(os.Getenv("PATH"), BinGlobs).
	Bin string
	// As runs the programs as this user; nil: ServerUser().
	As *OSUser
	// Prefix starts the name of the temporary folder; empty: "pgschemas-cluster-".
	Prefix string
}

// Cluster is a throwaway PostgreSQL server of its own: a data folder made by initdb in a
// temporary folder, run by pg_ctl on a free port of 127.0.0.1, with trust authentication for the
// superuser postgres, and durability turned off (fsync, synchronous_commit, full_page_writes), so
// that it is fast and is never to hold data that matters. Its methods are not safe for concurrent
// use.
type Cluster struct {
	// Bin is the folder of its programs, Dir the temporary folder (data folder, log and unix
	// socket), Port its TCP port.
	Bin, Dir string
	Port     int
	// As is the user that runs it; nil for the current one.
	As *OSUser
}

// StartCluster makes a Cluster and starts it. On an error it leaves nothing behind. ctx is checked
// between the programs, which run in a process group of their own (so that a Ctrl-C in a terminal
// reaches the caller only, and the caller stops the server itself).
func StartCluster(ctx context.Context, opts ClusterOptions) (_ *Cluster, err error) {
	c := &Cluster{Bin: opts.Bin, As: opts.As}
	if c.Bin == "" {
		if c.Bin, err = FindBin(os.Getenv("PATH"), BinGlobs); err != nil {
			return nil, err
		}
	}
	if c.As == nil {
		if c.As, err = ServerUser(); err != nil {
			return nil, err
		}
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "pgschemas-cluster-"
	}
	if c.Dir, err = os.MkdirTemp("", prefix); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Remove(context.WithoutCancel(ctx)))
		}
	}()
	if c.As != nil {
		if err := os.Chown(c.Dir, int(c.As.UID), int(c.As.GID)); err != nil {
			return nil, err
		}
	}
	if err := c.run("initdb", "--pgdata", c.DataDir(), "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync"); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("\n# pgcluster: a throwaway server\nlisten_addresses = '127.0.0.1'\nport = %d\n"+
		"unix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
		c.Port, strings.ReplaceAll(c.Dir, "'", "''"))
	if err := appendFile(filepath.Join(c.DataDir(), "postgresql.conf"), conf); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil { // interrupted during initdb, which a Ctrl-C does not reach
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// DataDir is the data folder.
func (c *Cluster) DataDir() string { return filepath.Join(c.Dir, "data") }

// DSN connects to the maintenance database postgres as the superuser postgres.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	logFile := filepath.Join(c.Dir, "postgres.log")
	if err := c.run("pg_ctl", "--pgdata", c.DataDir(), "--log", logFile, "--wait", "--timeout", "120", "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("%w\n%s", err, bytes.TrimSpace(log))
	}
	return nil
}

// Stop stops the server with pg_ctl's mode: "smart", "fast" or "immediate" (no shutdown
// checkpoint: the next start recovers from the WAL, as after a crash). It waits until the server
// is gone, and does nothing when it does not run.
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	if !c.Running() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.run("pg_ctl", "--pgdata", c.DataDir(), "--mode", mode, "--wait", "stop")
}

// Restart stops the server with mode (see Stop) and starts it again; its port stays.
func (c *Cluster) Restart(ctx context.Context, mode string) error {
	if err := c.Stop(ctx, mode); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Running reports whether the server's postmaster.pid exists.
func (c *Cluster) Running() bool {
	_, err := os.Stat(filepath.Join(c.DataDir(), "postmaster.pid"))
	return err == nil
}

// PID returns the postmaster's process id, or 0 when it does not run.
func (c *Cluster) PID() int {
	b, err := os.ReadFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// Remove stops the server (fast) when it runs, and removes its folder.
func (c *Cluster) Remove(ctx context.Context) error {
	if c.Dir == "" {
		return nil
	}
	err := c.Stop(ctx, "fast")
	return errors.Join(err, os.RemoveAll(c.Dir))
}

// run runs one of the server's programs in c.Dir, as c.As, in a process group of its own.
func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.Bin, name), args...)
	cmd.Dir = c.Dir
	cmd.SysProcAttr = procAttr(c.As)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, bytes.TrimSpace(out))
	}
	return nil
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
