package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// envelope is the --json document every command prints.
type envelope struct {
	Command  string          `json:"command"`
	OK       bool            `json:"ok"`
	ExitCode int             `json:"exit_code"`
	Error    *jsonError      `json:"error"`
	raw      map[string]any  // every key, data included
	text     json.RawMessage // the document
}

// parseEnvelope parses stdout as one envelope and checks the head's keys are there.
func parseEnvelope(t *testing.T, r result) envelope {
	t.Helper()
	var e envelope
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&e.text); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%v", err, r)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%v", r)
	}
	if err := json.Unmarshal(e.text, &e); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e.text, &e.raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"command", "ok", "exit_code", "error"} {
		if _, ok := e.raw[k]; !ok {
			t.Errorf("the envelope has no %q:\n%s", k, e.text)
		}
	}
	if e.ExitCode != r.code {
		t.Errorf("exit_code %d, but the exit code is %d", e.ExitCode, r.code)
	}
	return e
}

// snakeCase fails the test unless every key of v, and every string value under the keys named in
// values, is snake_case.
func snakeCase(t *testing.T, what string, v any, values ...string) {
	t.Helper()
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	var walk func(path string, v any, checkValue bool)
	walk = func(path string, v any, checkValue bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("%s: key %s.%s is not snake_case", what, path, k)
				}
				walk(path+"."+k, x, slices.Contains(values, k))
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x, checkValue)
			}
		case string:
			if checkValue && !snake.MatchString(v) {
				t.Errorf("%s: value %s = %q is not snake_case", what, path, v)
			}
		}
	}
	walk("", v, false)
}

// TestJSONEveryCommand runs each command with --json: one envelope on stdout, with the command,
// ok, exit_code, error and the command's data; snake_case keys and enumerated values; failures
// also on stderr, and PostgreSQL's errors with their SQLSTATE, DETAIL, HINT and position.
func TestJSONEveryCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	domainKeys := []string{"tenant", "domain", "folder", "primary", "redirect_to_primary"}
	for _, tc := range []struct {
		args    []string
		code    int
		command string
		data    []string // keys of the command's data
	}{
		{[]string{"apply"}, 0, "apply", []string{"results", "totals"}},
		{[]string{"createrefschema"}, 0, "createrefschema", []string{"results", "totals"}},
		{[]string{"tenant", "create", "acme", "--domain", "acme.example.test"}, 0, "tenant create", []string{"tenant", "domains"}},
		{[]string{"tenant", "create", "globex"}, 0, "tenant create", []string{"tenant"}},
		{[]string{"tenant", "list"}, 0, "tenant list", []string{"tenants"}},
		{[]string{"tenant", "list", "--stats"}, 0, "tenant list", []string{"tenants"}},
		{[]string{"domain", "add", "acme", "www.acme.example.test", "--redirect-to-primary"}, 0, "domain add", domainKeys},
		{[]string{"domain", "list", "acme"}, 0, "domain list", []string{"domains"}},
		{[]string{"domain", "set-primary", "www.acme.example.test"}, 0, "domain set-primary", domainKeys},
		{[]string{"domain", "remove", "acme.example.test"}, 0, "domain remove", domainKeys},
		{[]string{"tenant", "rename", "globex", "globex_corp"}, 0, "tenant rename", []string{"old_name", "name"}},
		{[]string{"plan"}, 0, "plan", []string{"results", "totals"}},
		{[]string{"status", "--verify"}, 0, "status", []string{"schemas", "totals"}},
		{[]string{"whowill", "--dynamic"}, 0, "whowill", []string{"schemas"}},
		{[]string{"exec", "-s", "acme", "-c", "SELECT 1 AS one"}, 0, "exec", []string{"schemas", "ran", "failed"}},
		{[]string{"inspect", "-s", "acme"}, 0, "inspect", []string{"schema", "hcl"}},
		{[]string{"clone", "acme", "acme2", "--tenant"}, 0, "clone", []string{"source", "target", "tenant"}},
		{[]string{"tenant", "drop", "acme2", "--yes"}, 0, "tenant drop", []string{"tenant"}},
		{[]string{"pool", "status"}, 0, "pool status", []string{"size", "ready", "schemas"}},
		{[]string{"pool", "fill", "--size", "1"}, 0, "pool fill", []string{"filled", "dropped", "ready"}},
		{[]string{"version"}, 0, "version", []string{"module", "version", "go"}},
		{[]string{"tenant", "drop", "acme"}, 2, "tenant drop", nil},
		{[]string{"apply", "--nope"}, 2, "apply", nil},
		{[]string{"tenant", "drop", "www", "--yes"}, 1, "tenant drop", nil},
		{[]string{"domain", "add", "acme", "a..b.test"}, 2, "domain add", nil},
		{[]string{"domain", "add", "nobody", "free.example.test"}, 1, "domain add", nil},
		{[]string{"domain", "remove", "nowhere.example.test"}, 1, "domain remove", nil},
		{[]string{"tenant", "rename", "www", "www2"}, 1, "tenant rename", nil},
	} {
		r := f.want(tc.code, append(tc.args, "--json")...)
		e := parseEnvelope(t, r)
		if e.Command != tc.command || e.OK != (tc.code == 0) || (e.Error == nil) != (tc.code == 0) {
			t.Errorf("%v: command %q, ok %v, error %+v; want %q, ok %v", tc.args, e.Command, e.OK, e.Error, tc.command, tc.code == 0)
		}
		for _, k := range tc.data {
			if _, ok := e.raw[k]; !ok {
				t.Errorf("%v: no %q in the envelope:\n%s", tc.args, k, e.text)
			}
		}
		snakeCase(t, strings.Join(tc.args, " "), e.raw, "outcome", "state", "kind")
		if tc.code != 0 {
			wantContains(t, strings.Join(tc.args, " ")+" stderr", r.stderr, "error: ")
			if e.Error != nil && !strings.Contains(r.stderr, strings.Split(e.Error.Message, "\n")[0]) {
				t.Errorf("%v: the envelope's error %q is not on stderr:\n%s", tc.args, e.Error.Message, r.stderr)
			}
		}
	}

	// A server error carries its SQLSTATE, DETAIL, HINT and position, in the schema's error and
	// in the envelope's.
	f.exec(`INSERT INTO acme.settings (key, value) VALUES ('k', 'v')`)
	r := f.want(1, "exec", "--dynamic", "-c", "INSERT INTO settings (key, value) VALUES ('k', 'v')", "--json")
	e := parseEnvelope(t, r)
	var data struct {
		Schemas []struct {
			Schema string
			Error  *jsonError
		}
	}
	if err := json.Unmarshal(e.text, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Schemas) != 2 || data.Schemas[0].Schema != "acme" || data.Schemas[0].Error == nil || data.Schemas[1].Error != nil {
		t.Fatalf("exec --json: %s", e.text)
	}
	if se := data.Schemas[0].Error; se.SQLState != "23505" || !strings.Contains(se.Detail, "(key)=(k)") || se.Schema != "acme" {
		t.Errorf("acme's error = %+v, want SQLSTATE 23505 with its DETAIL", se)
	}
	if e.Error == nil || e.Error.SQLState != "23505" || e.Error.Schema != "acme" {
		t.Errorf("the envelope's error = %+v", e.Error)
	}
	wantContains(t, "stderr", r.stderr, `error: dynamic "acme"`, "23505")

	r = f.want(1, "exec", "-s", "acme", "-c", "SELECT nosuch_function(1)", "--json")
	if e := parseEnvelope(t, r); e.Error == nil || e.Error.SQLState != "42883" || e.Error.Hint == "" || e.Error.Position != 8 {
		t.Errorf("undefined function: error %+v, want SQLSTATE 42883, a HINT and position 8", e.Error)
	}
}

// TestVersion: version and --version print the module version and the VCS revision that the
// toolchain recorded in the binary (go version -m), and in a clone that revision is HEAD.
func TestVersion(t *testing.T) {
	t.Parallel()
	r := runBinary(t, "version")
	// Built in a git clone, Go 1.24 and later stamp a pseudo-version (v0.0.0-<time>-<revision>);
	// elsewhere the version is (devel).
	if r.code != 0 || !regexp.MustCompile(`^schemaset (\(devel\)|v\S+) \(github.com/pgschemas/pgschemas`).MatchString(r.stdout) {
		t.Fatalf("version: %v", r)
	}
	if v := runBinary(t, "--version"); v.code != 0 || v.stdout != r.stdout {
		t.Errorf("--version = %v, want what version prints", v)
	}
	e := parseEnvelope(t, runBinary(t, "version", "--json"))
	var v versionInfo
	if err := json.Unmarshal(e.text, &v); err != nil {
		t.Fatal(err)
	}
	if v.Module != "github.com/pgschemas/pgschemas" || !strings.HasPrefix(r.stdout, "schemaset "+v.Version+" ") || !strings.HasPrefix(v.Go, "go1.") {
		t.Errorf("version --json = %+v", v)
	}
	stamp, err := exec.Command("go", "version", "-m", binary(t)).Output()
	if err != nil {
		t.Fatal(err)
	}
	recorded := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=(\S+)$`).FindStringSubmatch(string(stamp))
	if recorded == nil {
		if fi, err := os.Stat(filepath.Join("..", "..", ".git")); err == nil && fi.IsDir() {
			t.Fatalf("built in a git clone, but the binary has no vcs.revision:\n%s", stamp)
		}
		// The go command stamps no revision in a git worktree (.git is a file) or outside git.
		if v.Revision != "" {
			t.Errorf("revision %q, but the toolchain recorded none", v.Revision)
		}
		t.Logf("no VCS stamp here (a git worktree, or no git); the revision is checked by TestVersionString")
		return
	}
	if v.Revision != recorded[1] || !strings.Contains(r.stdout, "revision "+recorded[1]) {
		t.Errorf("revision %q (%q), want the recorded %s", v.Revision, r.stdout, recorded[1])
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && strings.TrimSpace(string(head)) != v.Revision {
		t.Errorf("revision %s, want HEAD %s", v.Revision, head)
	}
}

// TestVersionString: what version makes of a build's VCS stamp, and of a go install ...@version.
func TestVersionString(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Path: "github.com/pgschemas/pgschemas", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-05T06:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := newVersionInfo(bi).String(), "schemaset (devel) (github.com/pgschemas/pgschemas, revision 0123abcd, 2026-12-05T06:00:00Z, modified; go1.25.0)"; got != want {
		t.Errorf("a build in a checkout: %q, want %q", got, want)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Path: "github.com/pgschemas/pgschemas", Version: "v0.4.0"}}
	if got, want := newVersionInfo(bi).String(), "schemaset v0.4.0 (github.com/pgschemas/pgschemas; go1.25.0)"; got != want {
		t.Errorf("go install ...@v0.4.0: %q, want %q", got, want)
	}
}

// TestDetailedExitcode: plan and status exit 3 when something is to change, 0 when nothing is,
// 1 on an error and 2 on a usage error.
func TestDetailedExitcode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.want(3, "plan", "--detailed-exitcode")
	f.want(3, "status", "--detailed-exitcode")
	f.setup()
	f.want(0, "plan", "--detailed-exitcode")
	f.want(0, "status", "--detailed-exitcode", "--verify")

	f.edit("apps/tenant/notes.sql", "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,")
	r := f.want(3, "plan", "--detailed-exitcode")
	wantContains(t, "plan", r.stdout, "plan: 3 to change")
	e := parseEnvelope(t, f.want(3, "plan", "--detailed-exitcode", "--json"))
	if !e.OK || e.Error != nil {
		t.Errorf("changes pending are not an error: %s", e.text)
	}
	f.want(3, "status", "--detailed-exitcode", "--tenants")
	f.want(0, "status") // without the flag, states never change the exit code
	f.ok("apply")
	f.want(0, "plan", "--detailed-exitcode")

	// Drift made by hand: recorded up to date, found by --verify.
	f.exec(`ALTER TABLE acme.notes ADD COLUMN by_hand int`)
	f.want(0, "status", "--detailed-exitcode")
	wantContains(t, "status --verify", f.want(3, "status", "--detailed-exitcode", "--verify").stdout, "drifted")

	// A refusal is an error, not a change.
	f.edit("apps/tenant/notes.sql", "value   text NOT NULL,\n", "")
	f.want(1, "plan", "--detailed-exitcode", "-s", "sample")
	f.want(2, "plan", "--detailed-exitcode", "--nope")
}

// TestExecRows: exec prints what its statements return, per schema, as an aligned table, and
// with --json as columns and rows (NULL as null).
func TestExecRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.exec(`INSERT INTO acme.settings (key, value) VALUES ('theme', 'dark'), ('a_longer_key', 'x')`)
	f.exec(`INSERT INTO globex.settings (key, value) VALUES ('theme', 'light')`)
	r := f.ok("exec", "--dynamic", "-c", "UPDATE settings SET value = value WHERE false; SELECT key, value, NULL::int AS nothing FROM settings ORDER BY key")
	want := `-- dynamic "acme"
key           value  nothing
---           -----  -------
a_longer_key  x      
theme         dark   
(2 rows)
-- dynamic "globex"
key    value  nothing
---    -----  -------
theme  light  
(1 row)
exec: ran in 2 of 2 schemas
`
	if r.stdout != want {
		t.Errorf("exec rows:\n%s\nwant:\n%s", r.stdout, want)
	}

	e := parseEnvelope(t, f.ok("exec", "-s", "acme", "-c", "SELECT key, NULL AS n FROM settings ORDER BY key; INSERT INTO settings VALUES ('z', 'z') RETURNING key", "--json"))
	var data struct {
		Schemas []struct {
			Schema     string
			Statements []struct {
				Command string
				Columns []string
				Rows    [][]*string
			}
		}
		Ran int
	}
	if err := json.Unmarshal(e.text, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Schemas) != 1 || len(data.Schemas[0].Statements) != 2 || data.Ran != 1 {
		t.Fatalf("exec --json: %s", e.text)
	}
	sel, ins := data.Schemas[0].Statements[0], data.Schemas[0].Statements[1]
	if sel.Command != "SELECT 2" || !slices.Equal(sel.Columns, []string{"key", "n"}) || len(sel.Rows) != 2 ||
		*sel.Rows[0][0] != "a_longer_key" || sel.Rows[0][1] != nil {
		t.Errorf("the SELECT's result: %+v", sel)
	}
	if ins.Command != "INSERT 0 1" || len(ins.Rows) != 1 || *ins.Rows[0][0] != "z" {
		t.Errorf("the INSERT's result: %+v", ins)
	}
	if n := f.count(`SELECT count(*) FROM acme.settings WHERE key = 'z'`); n != 1 {
		t.Errorf("the INSERT did not commit")
	}
	// A failure rolls its schema back, statements before it included.
	f.want(1, "exec", "-s", "acme", "-c", "INSERT INTO settings VALUES ('y', 'y'); SELECT 1/0")
	if n := f.count(`SELECT count(*) FROM acme.settings WHERE key = 'y'`); n != 0 {
		t.Errorf("a failed exec kept its first statement")
	}
}

// TestDatabaseURLParams: the CLI takes the URL an app gives the pgschemas driver, with its
// pgschemas_ parameters, from --url or DATABASE_URL; it refuses to guess a database.
func TestDatabaseURLParams(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	withParams := pgtest.WithParams(f.url, "pgschemas_pooler", "transaction", "pgschemas_strict", "off",
		"pgschemas_extra_search_paths", "ext")
	config := filepath.Join(f.dir, "pgschemas.hcl")
	r := runEnv(t, nil, "--config", config, "--url", withParams, "status")
	if r.code != 0 || !strings.Contains(r.stdout, "6 up to date") {
		t.Errorf("--url with pgschemas_ parameters: %v", r)
	}
	r = runEnv(t, []string{"DATABASE_URL=" + withParams}, "--config", config, "tenant", "list")
	if r.code != 0 || r.stdout != "NAME    DOMAINS\nacme    acme.example.test (primary)\nglobex  shared.example.test/globex (primary)\n" {
		t.Errorf("DATABASE_URL with pgschemas_ parameters: %v", r)
	}
	r = runEnv(t, nil, "--config", config, "--url", pgtest.WithParams(f.url, "pgschemas_nope", "1"), "status")
	if r.code != 1 || !strings.Contains(r.stderr, `unknown DSN parameter "pgschemas_nope"`) {
		t.Errorf("an unknown pgschemas_ parameter: %v", r)
	}

	// No --url, no DATABASE_URL: refused, even when the libpq environment names a server.
	r = runEnv(t, []string{"PGHOST=127.0.0.1", "PGUSER=postgres"}, "--config", config, "status")
	if r.code != 2 || !strings.Contains(r.stderr, "error: no database: give --url or set DATABASE_URL") || r.stdout != "" {
		t.Errorf("no URL: %v", r)
	}
}

// runEnv runs the binary with env added to an environment without DATABASE_URL and without the
// libpq variables (PG...).
func runEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runIn(t, append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "PG")
	}), env...), args...)
}

// TestInterrupt sends SIGINT to a command blocked on a lock that the test holds: it must exit 130
// with one line that says what was done, and nothing else on stderr. The signal goes once the
// command waits for the table that the test locked, not for any lock: on a loaded machine the
// command can wait briefly for another lock first (the apply lock), and a signal then stops it
// before it applied anything, which the line says otherwise.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.edit("apps/tenant/notes.sql", "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,")

	for _, tc := range []struct {
		name, table string
		args        []string
		want        string
		check       func()
	}{
		{
			name: "apply", table: "acme.notes",
			args: []string{"apply", "--continue-on-error"},
			want: `^interrupted \(SIGINT\): apply: [12] applied, 3 up to date, [12] not done \(each schema is before or after its change, never between\); run apply again to finish\n$`,
			check: func() {
				if slices.Contains(f.columns("acme", "notes"), "pinned") {
					t.Errorf("apply: acme changed after the interrupt")
				}
			},
		},
		{
			name: "tenant create", table: "public.pgschemas_tenant",
			args: []string{"tenant", "create", "initech"},
			want: `^interrupted \(SIGINT\): stopped before it finished; the transaction in progress was rolled back\n$`,
			check: func() {
				if f.schemaExists("initech") {
					t.Errorf("tenant create: schema initech exists after the interrupt")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			conn, err := f.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.Exec("LOCK TABLE " + tc.table + " IN ACCESS EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary(t), append([]string{"--config", filepath.Join(f.dir, "pgschemas.hcl"), "--url", f.url}, tc.args...)...)
			cmd.Env = append(os.Environ(), "PGAPPNAME=pgschemas_interrupt_test")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(30 * time.Second); f.count(`SELECT count(*) FROM pg_stat_activity a
				JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted AND l.relation = $1::regclass
				WHERE a.application_name = 'pgschemas_interrupt_test'`, tc.table) == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the command never waited for the lock")
				}
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("exit: %v, want 130", err)
			}
			if got := stderr.String(); !regexp.MustCompile(tc.want).MatchString(got) {
				t.Errorf("stderr = %q, want %s", got, tc.want)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			tc.check()
		})
	}
}

// TestInspectRoundTrip: inspect writes an app that loads back unchanged. Each schema's inspected
// app (--out), made its only app, gives a plan with nothing to change and an apply that runs
// nothing: on public (whose tables reference each other and the engine's), on the static tenants,
// and on a reference that holds foreign keys to public and of its own, enums, a partial index,
// checks, views (one on another, one joining public's plans) and functions (one with a BEGIN
// ATOMIC body, one taking a table's row type), made by an app, and a view, a function and a
// trigger made by hand. The trigger, which an app cannot hold, is named on stderr and left as it is.
func TestInspectRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.write("apps/tenant/tasks.sql", `CREATE TYPE priority AS ENUM ('low', 'high');
CREATE TABLE tasks (
  id       bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  note_id  bigint NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
  plan_id  bigint REFERENCES plans (id) ON UPDATE CASCADE,
  priority priority NOT NULL DEFAULT 'low',
  title    varchar(200) NOT NULL CHECK (title <> ''),
  due      date,
  UNIQUE (note_id, title)
);
CREATE INDEX tasks_due_idx ON tasks (due) WHERE due IS NOT NULL;
CREATE FUNCTION urgent(p priority) RETURNS boolean LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT p = 'high'; END;
CREATE FUNCTION label(t tasks) RETURNS text LANGUAGE sql STABLE AS 'SELECT upper(t.title)';
CREATE VIEW urgent_tasks AS SELECT id, label(tasks) AS label, plan_id FROM tasks WHERE urgent(priority);
CREATE VIEW urgent_plans AS SELECT u.id, p.name FROM urgent_tasks u JOIN plans p ON p.id = u.plan_id;
`)
	f.setup()
	for _, s := range []string{"sample", "acme", "globex"} {
		f.exec(`CREATE VIEW ` + s + `.open_tasks AS SELECT id, title FROM ` + s + `.tasks WHERE due IS NOT NULL`)
		f.exec(`CREATE FUNCTION ` + s + `.touch() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$BEGIN RETURN NEW; END$$`)
		f.exec(`CREATE TRIGGER tasks_touch BEFORE UPDATE ON ` + s + `.tasks FOR EACH ROW EXECUTE FUNCTION ` + s + `.touch()`)
	}
	f.exec(`INSERT INTO sample.settings (key, value) VALUES ('kept', 'yes')`)

	for _, s := range []string{"public", "www", "blog", "sample"} {
		dir := filepath.Join(f.dir, "apps", "inspected_"+s)
		r := f.ok("inspect", "-s", s, "--out", dir)
		hcl, sqlText := f.read("apps/inspected_"+s+"/schema.hcl"), f.read("apps/inspected_"+s+"/views_functions.sql")
		if strings.Contains(hcl, `schema "`) || strings.Contains(hcl, "schema =") || strings.Contains(sqlText, s+".") {
			t.Errorf("inspect -s %s names a schema:\n%s\n%s", s, hcl, sqlText)
		}
		switch s {
		case "sample":
			wantContains(t, "inspect -s sample", hcl, `table "tasks"`, `enum "priority"`, `enum "role"`,
				"ref_columns = [table.public.plans.column.id]", "ref_columns = [table.notes.column.id]")
			wantContains(t, "inspect -s sample: views and functions", sqlText, `CREATE FUNCTION "urgent"(p priority)`, "BEGIN ATOMIC",
				`CREATE FUNCTION "label"(t tasks)`, `CREATE FUNCTION "touch"()`, "SET search_path TO 'public'", `CREATE VIEW "open_tasks" AS`,
				`CREATE VIEW "urgent_tasks" AS`, `CREATE VIEW "urgent_plans" AS`)
			if strings.Index(sqlText, `"urgent_plans"`) < strings.Index(sqlText, `"urgent_tasks"`) {
				t.Errorf("urgent_plans comes before urgent_tasks, on which it depends:\n%s", sqlText)
			}
			if r.stderr != `warning: trigger tasks_touch on tasks of "sample" is not in the app: an app holds tables, enums, views and functions, which the engine manages; an apply leaves the trigger as it is`+"\n" {
				t.Errorf("inspect -s sample stderr: %q", r.stderr)
			}
			e := parseEnvelope(t, f.ok("inspect", "-s", "sample", "--json"))
			if u, _ := e.raw["unmanaged"].([]any); len(u) != 1 || e.raw["hcl"] != hcl || e.raw["sql"] != sqlText {
				t.Errorf("inspect --json: unmanaged %v, hcl and sql the same as the files': %v %v", e.raw["unmanaged"], e.raw["hcl"] == hcl, e.raw["sql"] == sqlText)
			}
			// Without --out, the HCL is printed, and the views and functions get a warning.
			r = f.ok("inspect", "-s", "sample")
			if r.stdout != hcl {
				t.Errorf("inspect -s sample prints another HCL than --out writes")
			}
			wantContains(t, "inspect -s sample without --out", r.stderr, "--out DIR")
		case "public":
			wantContains(t, "inspect -s public", hcl, "ref_columns = [table.plans.column.id]",
				"ref_columns = [table.public.pgschemas_tenant.column.schema_name]")
			fallthrough
		default:
			if r.stderr != "" || sqlText != "" {
				t.Errorf("inspect -s %s warns %q, writes views and functions %q", s, r.stderr, sqlText)
			}
		}
	}
	f.write("pgschemas.hcl", `apps_dir = "apps"
public {
  apps = ["inspected_public"]
}
static "www" {
  apps    = ["inspected_www"]
  domains = ["localhost", "www.example.test"]
}
static "blog" {
  apps    = ["inspected_blog"]
  domains = ["blog.example.test", "help.example.test"]
}
dynamic {
  apps            = ["inspected_sample"]
  clone_reference = "sample"
}
`)
	r := f.want(0, "plan", "--verify", "--detailed-exitcode")
	wantContains(t, "plan with the inspected apps", r.stdout, "plan: 0 to change")
	r = f.ok("apply", "--verify")
	if strings.Contains(r.stdout, "statement") || strings.Contains(r.stdout, "step") {
		t.Errorf("apply with the inspected apps ran something:\n%s", r.stdout)
	}
	wantContains(t, "status", f.ok("status", "--verify").stdout, "status: 6 up to date")
	if got := f.strings(`SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = 'sample.tasks'::regclass AND NOT tgisinternal`); !slices.Equal(got, []string{"tasks_touch"}) {
		t.Errorf("the trigger is gone after the apply: %v", got)
	}
	if got := f.strings(`SELECT value FROM sample.settings`); !slices.Equal(got, []string{"yes"}) {
		t.Errorf("sample.settings = %v after the apply", got)
	}
	// A tenant made from the inspected app alone has the reference's tables, views and functions;
	// so has one made from the apps, with no reference to clone.
	f.ok("tenant", "create", "fresh")
	f.exec(`DROP SCHEMA sample CASCADE`)
	f.ok("tenant", "create", "bare")
	const objects = `SELECT c.relname || ' ' || c.relkind::text FROM pg_catalog.pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'v')
		UNION ALL SELECT p.proname || '()' FROM pg_catalog.pg_proc p WHERE p.pronamespace = $1::regnamespace ORDER BY 1`
	want := f.strings(objects, "fresh")
	wantContains(t, "fresh", strings.Join(want, ","), "urgent_plans v", "open_tasks v", "label()", "touch()", "tasks r")
	if got := f.strings(objects, "bare"); !slices.Equal(got, want) {
		t.Errorf("a tenant made from the inspected app has %v, want %v", got, want)
	}
}

// TestNoContainerLibrary: the CLI imports no container library, so that "go get -tool" of it adds
// none to a user's go.mod (the demo runs its container with the docker command).
func TestNoContainerLibrary(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, bad := range []string{"testcontainers", "docker", "moby", "containerd", "/internal/pgtest"} {
			if strings.Contains(pkg, bad) {
				t.Errorf("cmd/schemaset imports %s", pkg)
			}
		}
	}
}
