package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestProgressBar runs the CLI in process with stderr taken for a terminal: the run draws a bar
// instead of one line per schema, and still ends with the summary.
func TestProgressBar(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(""),
		getenv: func(string) string { return "" }, terminal: true}
	code := a.execute(context.Background(), []string{"--config", filepath.Join(f.dir, "pgschemas.hcl"), "--url", f.url, "apply"})
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	wantContains(t, "stderr", stderr.String(), "apply", "/4)")
	wantContains(t, "stdout", stdout.String(), "apply: 4 applied")
	if strings.Contains(stdout.String(), "applied public") {
		t.Errorf("a run with a bar printed one line per schema:\n%s", stdout.String())
	}
}

// TestDatabaseURL checks where the connection string comes from: --url, else $DATABASE_URL, else
// "" (pgx then reads the libpq environment).
func TestDatabaseURL(t *testing.T) {
	env := map[string]string{}
	a := &app{getenv: func(k string) string { return env[k] }}
	if got := a.dsn(); got != "" {
		t.Errorf("no --url, no DATABASE_URL: dsn = %q, want empty", got)
	}
	env["DATABASE_URL"] = "postgres://env"
	if got := a.dsn(); got != "postgres://env" {
		t.Errorf("DATABASE_URL: dsn = %q", got)
	}
	a.url = "postgres://flag"
	if got := a.dsn(); got != "postgres://flag" {
		t.Errorf("--url: dsn = %q", got)
	}
}
