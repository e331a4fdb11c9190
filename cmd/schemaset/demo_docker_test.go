package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// fakeDocker is a docker command on PATH that answers as a Docker engine would, with the test's
// server standing for the container's, and logs each call.
const fakeDocker = `#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_DIR/calls"
case "$1" in
version) echo 28.0 ;;
run) echo 0123456789ab ;;
port) echo "$FAKE_DOCKER_ADDR" ;;
ps) cat "$FAKE_DOCKER_DIR/containers" 2>/dev/null ;;
rm) ;;
*) echo "fake docker: $1?" >&2; exit 1 ;;
esac
`

// TestDemoDocker runs the demo's container mode against a fake docker command: it runs the
// image with its label and a name of its own, removes a killed demo's container (and only that),
// and removes its own on exit.
func TestDemoDocker(t *testing.T) {
	admin, err := url.Parse(pgtest.AdminDSN(t))
	if err != nil || admin.User.Username() != "postgres" {
		t.Skipf("the fake container stands for a server with the user postgres; the test server is %v (%v)", admin, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	gone := startedAndGone(t)
	killed := "pgschemas-demo-" + demoHost + "-" + gone + "-aaaaaa"
	running := "pgschemas-demo-" + demoHost + "-1-bbbbbb" // pid 1 runs
	if err := os.WriteFile(filepath.Join(dir, "containers"), []byte(killed+"\n"+running+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_DOCKER_DIR", dir)
	t.Setenv("FAKE_DOCKER_ADDR", admin.Host)

	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	finder := postgresFinder{path: t.TempDir(), globs: []string{filepath.Join(t.TempDir(), "*")}, docker: dockerHealth}
	ready := filepath.Join(dir, "ready.json")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- a.runDemo(ctx, demoFlags{port: 0, readyFile: ready, config: filepath.Join("..", "..", "testdata", defaultFile)}, finder)
	}()
	var r demoReady
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil {
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the demo ended before it was ready: %v\n%s\n%s", err, &stdout, &stderr)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("not ready after 90s\n%s\n%s", &stdout, &stderr)
		}
	}
	if r.Server != "docker" || !databaseExists(t, r.Database) {
		t.Errorf("ready = %+v, want server docker and its database", r)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("runDemo: %v\n%s", err, &stderr)
	}
	if databaseExists(t, r.Database) {
		t.Errorf("the database %s is still there", r.Database)
	}
	b, err := os.ReadFile(filepath.Join(dir, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSpace(string(b)), "\n")
	var own string
	for _, c := range calls {
		if f := strings.Fields(c); f[0] == "run" {
			wantContains(t, "docker run", c, "--label "+demoLabel+"=1", "--publish 127.0.0.1::5432", demoImage, "--rm")
			for i, x := range f {
				if x == "--name" {
					own = f[i+1]
				}
			}
		}
	}
	if !demoNameRE.MatchString(own+"-") || !strings.Contains(own, fmt.Sprintf("-%d-", os.Getpid())) {
		t.Errorf("the container's name %q does not say whose it is", own)
	}
	wantContains(t, "docker calls", string(b), "rm --force "+killed, "rm --force "+own)
	if strings.Contains(string(b), "rm --force "+running) {
		t.Errorf("the demo removed the container of a demo that runs:\n%s", b)
	}
	wantContains(t, "stdout", stdout.String(), "removed the container "+killed+", left by a demo that was killed",
		"removed the PostgreSQL container "+own)
}
