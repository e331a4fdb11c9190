package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/internal/pgcluster"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestDemoDatabaseURL runs the demo with DATABASE_URL naming a throwaway database of the test
// server: it must work in a database of its own, drop it on exit, and leave the database it was given
// as it was.
func TestDemoDatabaseURL(t *testing.T) {
	t.Parallel()
	given := pgtest.NewDatabase(t)
	db, err := sql.Open("pgx", given)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	objects := func() string { // what the given database holds outside the catalogs
		var s string
		if err := db.QueryRow(`SELECT count(*) || ' schemas, ' || (SELECT count(*) FROM pg_catalog.pg_class c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema') || ' relations'
			FROM pg_catalog.pg_namespace`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := objects()

	d := startDemo(t, []string{"DATABASE_URL=" + given})
	if d.ready.Server != "url" || !strings.HasPrefix(d.ready.Database, "pgschemas_demo_") {
		t.Errorf("ready file = %+v, want server url and a database pgschemas_demo_...", d.ready)
	}
	d.exercise()
	d.tryCurlLines()
	d.stop()

	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_catalog.pg_database WHERE datname = $1`, d.ready.Database).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the demo's database %s is still there after it stopped", d.ready.Database)
	}
	if after := objects(); after != before {
		t.Errorf("the database given with DATABASE_URL changed: %s before the demo, %s after", before, after)
	}
	wantContains(t, "stdout", d.stdout.String(), "dropped the database "+d.ready.Database)
}

// TestDemoURLFlag: --url names the server as DATABASE_URL does, and wins over it.
func TestDemoURLFlag(t *testing.T) {
	t.Parallel()
	d := startDemo(t, []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/nothing"}, "--url", pgtest.AdminDSN(t))
	if d.ready.Server != "url" {
		t.Errorf("ready file = %+v, want server url", d.ready)
	}
	d.notes("acme", "acme.localhost", "")
	d.stop()
	wantContains(t, "stdout", d.stdout.String(), "dropped the database "+d.ready.Database)
}

// TestDemoInitdb runs the demo with no server configured: it must start a throwaway server with the
// local initdb and pg_ctl (as the postgres user when the test runs as root), and remove it on exit.
func TestDemoInitdb(t *testing.T) {
	t.Parallel()
	_, err := defaultPostgresFinder(os.Getenv).findBin()
	if err == nil {
		_, err = pgcluster.ServerUser()
	}
	switch {
	case err != nil && os.Getenv("CI") == "true":
		t.Fatalf("CI=true, and the embedded mode cannot run here (install PostgreSQL's server programs): %v", err)
	case err != nil:
		t.Skipf("the embedded mode needs PostgreSQL's server programs: %v", err)
	}

	d := startDemo(t, nil)
	if d.ready.Server != "initdb" || d.ready.DataDir == "" || d.ready.PostgresPID == 0 {
		t.Fatalf("ready file = %+v, want server initdb with its folder and postmaster", d.ready)
	}
	if !processAlive(d.ready.PostgresPID) {
		t.Errorf("the throwaway server's postmaster %d does not run", d.ready.PostgresPID)
	}
	d.exercise()
	d.stop()

	if _, err := os.Stat(d.ready.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the throwaway server's folder %s is still there (stat: %v)", d.ready.DataDir, err)
	}
	// pg_ctl stop returns once the postmaster removed its pid file, a moment before it exits; then
	// init reaps it.
	for deadline := time.Now().Add(10 * time.Second); processAlive(d.ready.PostgresPID); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the throwaway server's postmaster %d still runs 10s after the demo stopped", d.ready.PostgresPID)
			break
		}
	}
	if pids := processesMentioning(t, d.ready.DataDir); len(pids) > 0 {
		t.Errorf("processes %v still name the throwaway server's folder %s", pids, d.ready.DataDir)
	}
	wantContains(t, "stdout", d.stdout.String(), "stopped the throwaway PostgreSQL", "removed "+d.ready.DataDir)
}

// TestDemoNoServer: without --url, DATABASE_URL, initdb or Docker, the demo says what to install,
// and exits 1.
func TestDemoNoServer(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	finder := postgresFinder{
		path:   t.TempDir(),
		globs:  []string{filepath.Join(t.TempDir(), "*", "bin")},
		docker: func(context.Context) error { return errors.New("no Docker engine (test)") },
	}
	err := a.runDemo(context.Background(), demoFlags{config: filepath.Join("..", "..", "testdata", defaultFile)}, finder)
	if !errors.Is(err, errReported) {
		t.Fatalf("runDemo = %v, want errReported (exit 1)", err)
	}
	wantContains(t, "stderr", stderr.String(), "found no PostgreSQL server", "--url or DATABASE_URL: neither is set",
		"no initdb with a pg_ctl next to it", "no Docker engine (test)", "sudo apt-get install postgresql",
		"brew install postgresql@15", "start a Docker engine", "--url postgres://")
	if stdout.Len() > 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}

// TestDemoFindBin: initdb is looked up on PATH first, through links to its installation, then in
// the install folders, highest version first; pg_ctl must stand next to it.
func TestDemoFindBin(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	install := func(dir string, programs ...string) string {
		dir = filepath.Join(root, dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range programs {
			if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	v9 := install("lib/9.6/bin", "initdb", "pg_ctl")
	v15 := install("lib/15/bin", "initdb", "pg_ctl")
	install("lib/16/bin", "initdb") // no pg_ctl: not an installation
	linked := install("usr/bin")
	if err := os.Symlink(filepath.Join(v9, "initdb"), filepath.Join(linked, "initdb")); err != nil {
		t.Fatal(err)
	}
	globs := []string{filepath.Join(root, "lib", "*", "bin")}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"highest version in the install folders", "", v15},
		{"PATH first, through the link", linked, v9},
		{"PATH without initdb", filepath.Join(root, "usr"), v15},
	} {
		got, err := postgresFinder{path: tc.path, globs: globs}.findBin()
		if err != nil || got != tc.want {
			t.Errorf("%s: findBin = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if got, err := (postgresFinder{path: filepath.Join(root, "usr")}).findBin(); err == nil {
		t.Errorf("findBin without initdb = %q, want an error", got)
	}
}

// TestDemoFindsSampleConfig: without --config, the demo finds testdata/pgschemas.hcl in the
// nearest parent folder, so that "go run ./cmd/schemaset demo" works from a clone.
func TestDemoFindsSampleConfig(t *testing.T) {
	t.Parallel()
	got, err := findSampleConfig()
	if want := filepath.Join("..", "..", "testdata", defaultFile); err != nil || got != want {
		t.Errorf("findSampleConfig = %q, %v; want %q", got, err, want)
	}
}

// demoRun is a demo binary that runs, started by startDemo.
type demoRun struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	exited         chan struct{}
	waitErr        error // set before exited is closed
	readyFile      string
	ready          demoReady
	client         *http.Client
}

// startDemo starts "schemaset demo --port 0 --ready-file ... args" in this folder (so that it finds
// the sample set by itself), with env added to the environment but without the test's own
// DATABASE_URL, and waits until it serves. At the end of the
// test it interrupts the demo, if it still runs, so that it cleans up.
func startDemo(t *testing.T, env []string, args ...string) *demoRun {
	t.Helper()
	return startDemoOut(t, env, nil, args...)
}

// startDemoOut is startDemo with the demo's stdout on out, the write end of a pipe, which it
// closes once the demo started; nil is startDemo's buffer.
func startDemoOut(t *testing.T, env []string, out *os.File, args ...string) *demoRun {
	t.Helper()
	d := &demoRun{t: t, exited: make(chan struct{}), readyFile: filepath.Join(t.TempDir(), "ready.json"),
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	d.cmd = exec.Command(binary(t), append([]string{"demo", "--port", "0", "--ready-file", d.readyFile}, args...)...)
	d.cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DATABASE_URL=") }), env...)
	d.cmd.Stdout, d.cmd.Stderr = &d.stdout, &d.stderr
	if out != nil {
		d.cmd.Stdout = out
	}
	err := d.cmd.Start()
	if out != nil {
		out.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Signal(os.Interrupt)
			d.wait(time.Minute)
		}
	})

	deadline := time.Now().Add(90 * time.Second)
	for {
		b, err := os.ReadFile(d.readyFile)
		if err == nil {
			if err := json.Unmarshal(b, &d.ready); err != nil {
				t.Fatalf("ready file: %v\n%s", err, b)
			}
			return d
		}
		select {
		case <-d.exited:
			t.Fatalf("the demo exited before it was ready: %v\n%s", d.waitErr, d.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = d.cmd.Process.Signal(os.Interrupt)
			d.wait(time.Minute)
			t.Fatalf("the demo was not ready after 90s\n%s", d.output())
		}
	}
}

// wait waits for the demo to exit, and kills it after timeout.
func (d *demoRun) wait(timeout time.Duration) bool {
	select {
	case <-d.exited:
		return true
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return false
	}
}

// output is the demo's stdout and stderr; call it once the demo exited.
func (d *demoRun) output() string {
	return fmt.Sprintf("--- stdout:\n%s--- stderr:\n%s", d.stdout.String(), d.stderr.String())
}

// stop interrupts the demo as Ctrl-C does, and checks that it exits 0 within 30 seconds and
// removes its ready file.
func (d *demoRun) stop() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		d.t.Fatal(err)
	}
	if !d.wait(30 * time.Second) {
		d.t.Fatalf("the demo did not exit within 30s of SIGINT; killed\n%s", d.output())
	}
	if d.waitErr != nil {
		d.t.Errorf("the demo exited with %v after SIGINT, want 0\n%s", d.waitErr, d.output())
	}
	wantContains(d.t, "stdout", d.stdout.String(), "stopping")
	if _, err := os.Stat(d.readyFile); !errors.Is(err, os.ErrNotExist) {
		d.t.Errorf("the ready file is still there after the demo stopped (stat: %v)", err)
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.ready.Port), time.Second); err == nil {
		conn.Close()
		d.t.Errorf("port %d still accepts connections after the demo stopped", d.ready.Port)
	}
	// The demo's command line names the ready file: no process may still run it.
	if pids := processesMentioning(d.t, d.readyFile); len(pids) > 0 {
		d.t.Errorf("processes %v still run the demo after it stopped", pids)
	}
}

// do sends a request to the demo with host as Host, and returns the status, the headers and the body.
func (d *demoRun) do(method, host, path, contentType, body string) (int, http.Header, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.ready.URL+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Host = host
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// want sends a request and fails the test unless the answer has status; it returns the body.
func (d *demoRun) want(status int, method, host, path, contentType, body string) string {
	d.t.Helper()
	got, _, b := d.do(method, host, path, contentType, body)
	if got != status {
		d.t.Errorf("%s %s%s: status %d, want %d\n%s", method, host, path, got, status, b)
	}
	return b
}

// notes lists a tenant's notes through the JSON API.
func (d *demoRun) notes(tenant, host, prefix string) []note {
	d.t.Helper()
	var got notesJSON
	b := d.want(http.StatusOK, "GET", host, prefix+"/api/notes", "", "")
	if err := json.Unmarshal([]byte(b), &got); err != nil {
		d.t.Fatalf("GET %s%s/api/notes: %v\n%s", host, prefix, err, b)
	}
	if got.Tenant != tenant {
		d.t.Errorf("GET %s%s/api/notes answered for tenant %q, want %q", host, prefix, got.Tenant, tenant)
	}
	return got.Notes
}

// exercise sends requests for each tenant, HTML and JSON, adds a note to two of them, and checks
// that no other tenant sees it; then the static tenants and requests that route to no tenant.
func (d *demoRun) exercise() {
	t := d.t
	t.Helper()
	tenants := []struct{ name, host, prefix string }{
		{"acme", "acme.localhost", ""},
		{"globex", "globex.localhost", ""},
		{"initech", "shared.localhost", "/initech"},
	}
	for _, tn := range tenants {
		notes := d.notes(tn.name, tn.host, tn.prefix)
		if len(notes) < 2 {
			t.Errorf("%s has %d seeded notes, want 2", tn.name, len(notes))
		}
		for _, n := range notes {
			if !strings.Contains(n.Body, tn.name) || n.Author != "owner@"+tn.name+".test" {
				t.Errorf("%s lists a note of another tenant: %+v", tn.name, n)
			}
		}
		status, h, page := d.do("GET", tn.host, tn.prefix+"/", "", "")
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s%s/: %d %s, want 200 text/html", tn.host, tn.prefix, status, h.Get("Content-Type"))
		}
		wantContains(t, tn.name+"'s page", page, "<h1>Notes of "+tn.name+"</h1>", "Welcome to "+tn.name+"!",
			`action="`+tn.prefix+`/"`, `href="`+tn.prefix+`/api/notes"`)
	}

	stamp := time.Now().UnixNano()
	apiNote := fmt.Sprintf("for acme only %d", stamp)
	b := d.want(http.StatusCreated, "POST", "acme.localhost", "/api/notes", "application/json", fmt.Sprintf(`{"body": %q}`, apiNote))
	var created noteJSON
	if err := json.Unmarshal([]byte(b), &created); err != nil || created.Tenant != "acme" || created.Note.Body != apiNote {
		t.Errorf("POST /api/notes to acme answered %s (%v)", b, err)
	}
	formNote := fmt.Sprintf("for initech only %d", stamp)
	status, h, _ := d.do("POST", "shared.localhost", "/initech/", "application/x-www-form-urlencoded", url.Values{"body": {formNote}}.Encode())
	if status != http.StatusSeeOther || h.Get("Location") != "/initech/" {
		t.Errorf("the form's POST to initech: %d to %q, want 303 to /initech/", status, h.Get("Location"))
	}
	d.want(http.StatusBadRequest, "POST", "globex.localhost", "/api/notes", "application/json", `{"body": "  "}`)
	for _, tn := range tenants {
		var bodies []string
		for _, n := range d.notes(tn.name, tn.host, tn.prefix) {
			bodies = append(bodies, n.Body)
		}
		if has, want := slices.Contains(bodies, apiNote), tn.name == "acme"; has != want {
			t.Errorf("%s sees acme's new note: %v, want %v (notes %q)", tn.name, has, want, bodies)
		}
		if has, want := slices.Contains(bodies, formNote), tn.name == "initech"; has != want {
			t.Errorf("%s sees initech's new note: %v, want %v (notes %q)", tn.name, has, want, bodies)
		}
	}
	if page := d.want(http.StatusOK, "GET", "shared.localhost", "/initech/", "", ""); !strings.Contains(page, formNote) {
		t.Errorf("initech's page does not list the note its form added:\n%s", page)
	}

	www := d.want(http.StatusOK, "GET", "localhost", "/", "", "")
	wantContains(t, "www's page", www, "Static tenant www", "About pgschemas",
		fmt.Sprintf(`href="http://shared.localhost:%d/initech/"`, d.ready.Port))
	blog := d.want(http.StatusOK, "GET", "blog.example.test", "/", "", "")
	wantContains(t, "blog's page", blog, "Static tenant blog", "Schema per tenant in Go")
	if strings.Contains(blog, "A draft") {
		t.Errorf("blog's page lists a draft:\n%s", blog)
	}

	for _, tc := range []struct{ host, path string }{
		{"nobody.localhost", "/"},
		{"nobody.localhost", "/api/notes"},
		{"shared.localhost", "/"},                // the shared host has no tenant of its own
		{"shared.localhost", "/other/api/notes"}, // nor a tenant in that folder
		{fmt.Sprintf("127.0.0.1:%d", d.ready.Port), "/"},
	} {
		if b := d.want(http.StatusNotFound, "GET", tc.host, tc.path, "", ""); !strings.Contains(b, "no tenant at") {
			t.Errorf("GET %s%s: %q, want the demo's 404 page", tc.host, tc.path, b)
		}
	}
}

// processAlive reports whether the process pid runs: it exists and, where /proc tells, is no zombie.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(syscall.Signal(0)) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || runtime.GOOS != "linux"
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses, the state follows the last ')'.
	_, rest, _ := bytes.Cut(stat[bytes.LastIndexByte(stat, ')')+1:], []byte(" "))
	return !bytes.HasPrefix(rest, []byte("Z"))
}

// processesMentioning lists the processes whose command line holds s, on systems with /proc.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, filepath.Base(filepath.Dir(f)))
		}
	}
	return pids
}

// lockedBuffer is a bytes.Buffer that the demo's output goroutine may write while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tryCurlLines runs the curl lines that the demo printed, as a user pastes them, and checks their
// answers: the note that the second line adds to acme is in acme's answer and not in globex's,
// and the host of no tenant gets 404. Without curl it only checks that the lines are there.
func (d *demoRun) tryCurlLines() {
	t := d.t
	t.Helper()
	var lines []string
	for _, l := range strings.Split(d.stdout.String(), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "curl ") {
			lines = append(lines, l)
		}
	}
	port := fmt.Sprint(d.ready.Port)
	if len(lines) < 5 || !strings.Contains(lines[0], "http://acme.localhost:"+port+"/api/notes") {
		t.Fatalf("the demo printed %d curl lines, want at least 5, the first for acme's notes on port %s:\n%s", len(lines), port, strings.Join(lines, "\n"))
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Logf("curl is not installed: the printed curl lines are not run (%v)", err)
		return
	}
	answers := make([]string, len(lines))
	for i, l := range lines {
		// The flags go first: a line may end with a # comment.
		cmd := "curl --silent --show-error --max-time 10 " + strings.TrimPrefix(l, "curl ")
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", l, err, out)
		}
		answers[i] = string(out)
	}
	const added = "hello from acme"
	for i, l := range lines {
		switch a := answers[i]; {
		case strings.Contains(l, "acme.localhost") && strings.Contains(l, "-d "):
			wantContains(t, "the answer of "+l, a, `"tenant": "acme"`, added)
		case strings.Contains(l, "globex.localhost"):
			wantContains(t, "the answer of "+l, a, `"tenant": "globex"`)
			if strings.Contains(a, added) {
				t.Errorf("%s: globex sees acme's note:\n%s", l, a)
			}
		case strings.Contains(l, "nobody.localhost"):
			wantContains(t, "the answer of "+l, a, "404 Not Found", "no tenant at")
		case strings.Contains(l, "shared.localhost"):
			wantContains(t, "the answer of "+l, a, "initech")
		}
	}
	for _, n := range d.notes("acme", "acme.localhost", "") {
		if n.Body == added {
			return
		}
	}
	t.Errorf("acme has no note %q after the printed curl lines ran", added)
}
