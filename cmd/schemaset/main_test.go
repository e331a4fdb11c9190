package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

// binDir holds the binary that the end-to-end tests build once and run.
var binDir string

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "schemaset-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	return pgtest.Main(m)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// binary builds the schemaset binary on first use and returns its path.
func binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		path := filepath.Join(binDir, "schemaset")
		// -buildvcs=auto: stamp the VCS revision where it can (version reports it), whatever
		// GOFLAGS says.
		out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", path, ".").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// fixture is one test's copy of testdata (config and apps, free to edit) and database.
type fixture struct {
	t   *testing.T
	dir string
	url string
	db  *sql.DB
}

// newFixture copies ../../testdata into a temporary folder and creates a throwaway database.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return fixtureOn(t, pgtest.NewDatabase(t))
}

// fixtureOn copies ../../testdata into a temporary folder, for the database at url.
func fixtureOn(t *testing.T, url string) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "testdata"))); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &fixture{t: t, dir: dir, url: url, db: db}
}

// result is the outcome of one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the binary with the fixture's config and database, then args.
func (f *fixture) run(args ...string) result {
	f.t.Helper()
	args = append([]string{"--config", filepath.Join(f.dir, "pgschemas.hcl"), "--url", f.url}, args...)
	return runBinary(f.t, args...)
}

// runBinary runs the binary with args and an environment without DATABASE_URL.
func runBinary(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DATABASE_URL=") }), args...)
}

// runIn runs the binary with args in the environment env.
func runIn(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return res
}

// ok runs args and fails the test unless the exit code is 0.
func (f *fixture) ok(args ...string) result {
	f.t.Helper()
	return f.want(0, args...)
}

// want runs args and fails the test unless the exit code is code.
func (f *fixture) want(code int, args ...string) result {
	f.t.Helper()
	r := f.run(args...)
	if r.code != code {
		f.t.Fatalf("schemaset %s: want exit %d, got %v", strings.Join(args, " "), code, r)
	}
	return r
}

// setup runs the first apply and creates the tenants acme and globex.
func (f *fixture) setup() {
	f.t.Helper()
	f.ok("apply")
	f.ok("tenant", "create", "acme", "--domain", "acme.example.test")
	f.ok("tenant", "create", "globex", "--domain", "shared.example.test/globex")
}

// write replaces the file at rel (relative to the fixture's folder), creating its folder.
func (f *fixture) write(rel, content string) {
	f.t.Helper()
	path := filepath.Join(f.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// read returns the file at rel (relative to the fixture's folder), or "" when there is none.
func (f *fixture) read(rel string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, rel))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.t.Fatal(err)
	}
	return string(b)
}

// edit replaces old with new in the file at rel; old must be there.
func (f *fixture) edit(rel, old, new string) {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, rel))
	if err != nil {
		f.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		f.t.Fatalf("%s does not contain %q", rel, old)
	}
	f.write(rel, strings.Replace(string(b), old, new, 1))
}

// exec runs SQL on the fixture's database.
func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.db.Exec(query, args...); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
}

// strings returns the first column of a query's rows.
func (f *fixture) strings(query string, args ...any) []string {
	f.t.Helper()
	rows, err := f.db.Query(query, args...)
	if err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// count returns the result of a count query.
func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRow(query, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// tables lists the tables of a schema, sorted.
func (f *fixture) tables(schema string) []string {
	f.t.Helper()
	return f.strings(`SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY 1`, schema)
}

// columns lists the columns of a table, in order.
func (f *fixture) columns(schema, table string) []string {
	f.t.Helper()
	return f.strings(`SELECT column_name FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, schema, table)
}

// schemaExists reports whether the schema exists.
func (f *fixture) schemaExists(schema string) bool {
	f.t.Helper()
	return f.count(`SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = $1`, schema) == 1
}

// wantContains fails the test unless s holds each of subs.
func wantContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}
