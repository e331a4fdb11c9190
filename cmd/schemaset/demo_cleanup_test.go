package main

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// databaseExists reports whether the test server has the database name.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	db, err := sql.Open("pgx", pgtest.AdminDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_catalog.pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// exitedWithin waits for the demo to exit and fails the test if it does not within timeout.
func (d *demoRun) exitedWithin(timeout time.Duration, why string) {
	d.t.Helper()
	if !d.wait(timeout) {
		d.t.Fatalf("the demo did not exit within %s of %s; killed\n%s", timeout, why, d.output())
	}
}

// TestDemoSignals: SIGTERM and SIGHUP (the terminal closed) stop the demo as Ctrl-C does: exit 0,
// its database dropped.
func TestDemoSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(signalName(sig), func(t *testing.T) {
			t.Parallel()
			d := startDemo(t, []string{"DATABASE_URL=" + pgtest.AdminDSN(t)})
			if !databaseExists(t, d.ready.Database) {
				t.Fatalf("the demo's database %s does not exist while it runs", d.ready.Database)
			}
			if err := d.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			d.exitedWithin(30*time.Second, signalName(sig))
			if d.waitErr != nil {
				t.Errorf("exit after %s: %v, want 0\n%s", signalName(sig), d.waitErr, d.output())
			}
			if databaseExists(t, d.ready.Database) {
				t.Errorf("the database %s is still there after %s", d.ready.Database, signalName(sig))
			}
			wantContains(t, "stdout", d.stdout.String(), "stopping", "dropped the database "+d.ready.Database)
		})
	}
}

// pipeReader copies what the demo writes to its stdout pipe into a buffer, until the test closes
// the read end, as tee does when Ctrl-C kills it.
type pipeReader struct {
	r    *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func newPipe(t *testing.T) (*pipeReader, *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeReader{r: r, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			p.mu.Lock()
			p.buf.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { r.Close() })
	return p, w
}

// close closes the read end: the demo's next write to stdout fails with EPIPE.
func (p *pipeReader) close() {
	p.r.Close()
	<-p.done
}

func (p *pipeReader) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// TestDemoPipeClosed: a demo whose output pipe closes without a signal stops and cleans up. (The
// pipe closed by Ctrl-C, in throwaway mode, is in TestDemoLeftovers.)
func TestDemoPipeClosed(t *testing.T) {
	t.Parallel()
	t.Run("url, the pipe closes alone", func(t *testing.T) {
		t.Parallel()
		p, w := newPipe(t)
		d := startDemoOut(t, []string{"DATABASE_URL=" + pgtest.AdminDSN(t)}, w)
		wantContains(t, "stdout", p.String(), "ready: http://127.0.0.1:")
		p.close()
		d.exitedWithin(30*time.Second, "the close of its output pipe")
		if databaseExists(t, d.ready.Database) {
			t.Errorf("the database %s is still there after the output pipe closed\n%s", d.ready.Database, d.output())
		}
		if _, err := os.Stat(d.readyFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the ready file is still there (stat: %v)", err)
		}
	})
}

// killDemo kills the demo with SIGKILL, which leaves everything it made behind.
func (d *demoRun) kill() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatal(err)
	}
	d.exitedWithin(10*time.Second, "SIGKILL")
}

// TestDemoLeftovers: a demo killed with kill -9 leaves its database (and in throwaway mode its
// server and folder); the next demo removes them, and never what a running demo made.
func TestDemoLeftovers(t *testing.T) {
	t.Parallel()
	t.Run("url", func(t *testing.T) {
		t.Parallel()
		env := []string{"DATABASE_URL=" + pgtest.AdminDSN(t)}
		// A running demo's database, named as a demo names it, after a process that runs: this test.
		live := "pgschemas_demo_" + demoHost + "_" + strconv.Itoa(os.Getpid()) + "_abcdef"
		admin, err := sql.Open("pgx", pgtest.AdminDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.Exec("CREATE DATABASE " + live); err != nil {
			t.Fatal(err)
		}
		defer admin.Exec("DROP DATABASE IF EXISTS " + live + " WITH (FORCE)")
		killed := startDemo(t, env)
		killed.kill()
		if !databaseExists(t, killed.ready.Database) {
			t.Fatalf("the killed demo's database %s is gone already: nothing to test", killed.ready.Database)
		}
		next := startDemo(t, env)
		if databaseExists(t, killed.ready.Database) {
			t.Errorf("the killed demo's database %s is still there after the next demo started\n%s", killed.ready.Database, next.stdout.String())
		}
		wantContains(t, "the next demo's stdout", next.stdout.String(), "dropped the database "+killed.ready.Database+", left by a demo that was killed")
		if !databaseExists(t, live) {
			t.Errorf("the next demo dropped the database %s of a demo that runs", live)
		}
		next.stop()
	})
	t.Run("throwaway server", func(t *testing.T) {
		t.Parallel()
		if _, err := defaultPostgresFinder(os.Getenv).findBin(); err != nil && os.Getenv("CI") != "true" {
			t.Skipf("the throwaway mode needs PostgreSQL's server programs: %v", err)
		}
		killed := startDemo(t, nil)
		killed.kill()
		if !processAlive(killed.ready.PostgresPID) {
			t.Fatalf("the killed demo's server %d is gone already: nothing to test", killed.ready.PostgresPID)
		}
		// The next demo runs as "demo | tee log": its output is a pipe.
		p, w := newPipe(t)
		next := startDemoOut(t, nil, w)
		if _, err := os.Stat(killed.ready.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the killed demo's folder %s is still there (stat: %v)\n%s", killed.ready.DataDir, err, p.String())
		}
		serverGone(t, killed.ready.PostgresPID, "after the next demo started")
		wantContains(t, "the next demo's stdout", p.String(), "removed "+killed.ready.DataDir+" and stopped its server")

		// Ctrl-C on "demo | tee log" kills tee too: the demo's output pipe is closed while it
		// cleans up, and it must still stop its server and remove its folder.
		p.close()
		if err := next.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		next.exitedWithin(time.Minute, "SIGINT")
		if ws, ok := next.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Errorf("the demo died of %v instead of cleaning up", ws.Signal())
		}
		if _, err := os.Stat(next.ready.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the throwaway server's folder %s is still there (stat: %v)\n%s", next.ready.DataDir, err, next.output())
		}
		serverGone(t, next.ready.PostgresPID, "after the demo stopped")
	})
}

// serverGone fails the test unless the postmaster pid exits within 10 seconds.
func serverGone(t *testing.T, pid int, when string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); processAlive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the throwaway server's postmaster %d still runs %s", pid, when)
			return
		}
	}
}

// TestDemoLeftoverNames: only names of this machine whose process is gone are leftovers.
func TestDemoLeftoverNames(t *testing.T) {
	gone := startedAndGone(t)
	for name, want := range map[string]bool{
		"pgschemas_demo_" + demoHost + "_" + gone + "_0a1b2c":     true,
		"pgschemas-demo-" + demoHost + "-" + gone + "-123456":     true,
		demoName("_") + "_0a1b2c":                                 false, // this process
		"pgschemas_demo_" + demoHost + "_1_0a1b2c":                false, // init runs
		"pgschemas_demo_ffffff_" + gone + "_0a1b2c":               false, // another machine (unless ours hashes so)
		"pgschemas_demo_0a1b2c3d":                                 false, // an older demo's name: no pid
		"app_pgschemas_demo_" + demoHost + "_" + gone + "_0a1b2c": false,
		"pgschemas-cluster-" + demoHost + "-" + gone + "-0a1b2c":  false,
	} {
		if demoHost == "ffffff" && name == "pgschemas_demo_ffffff_"+gone+"_0a1b2c" {
			continue
		}
		if got := demoLeftover(name); got != want {
			t.Errorf("demoLeftover(%q) = %v, want %v", name, got, want)
		}
	}
}

// startedAndGone returns the pid of a process that ran and was reaped.
func startedAndGone(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(cmd.Process.Pid)
}
