package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestFirstApply(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.ok("apply")
	wantContains(t, "apply output", r.stdout, `applied public "public"`, `applied static "www"`,
		`applied static "blog"`, `applied reference "sample"`, "apply: 4 applied, 0 up to date, 0 refused, 0 failed")
	for _, tc := range []struct{ schema, table string }{
		{"public", "plans"}, {"public", "subscriptions"},
		{"www", "users"}, {"www", "pages"},
		{"blog", "users"}, {"blog", "posts"},
		{"sample", "users"}, {"sample", "notes"}, {"sample", "settings"},
	} {
		if !slices.Contains(f.tables(tc.schema), tc.table) {
			t.Errorf("no table %s.%s after the first apply; tables: %v", tc.schema, tc.table, f.tables(tc.schema))
		}
	}
	if got := f.tables("www"); slices.Contains(got, "notes") {
		t.Errorf("www has the tenant app's notes: %v", got)
	}

	f.ok("tenant", "create", "acme", "--domain", "acme.example.test")
	f.ok("tenant", "create", "globex", "--domain", "shared.example.test/globex")
	for _, s := range []string{"acme", "globex"} {
		if got, want := f.tables(s), f.tables("sample"); !slices.Equal(got, want) {
			t.Errorf("tenant %s has tables %v, want the reference's %v", s, got, want)
		}
	}
	if got := f.ok("tenant", "list").stdout; got != "NAME    DOMAINS\nacme    acme.example.test (primary)\nglobex  shared.example.test/globex (primary)\n" {
		t.Errorf("tenant list = %q", got)
	}

	st := f.ok("status")
	for _, s := range []string{"public", "www", "blog", "sample", "acme", "globex"} {
		if !regexp.MustCompile(`(?m)^` + s + `\s+\w+\s+up to date$`).MatchString(st.stdout) {
			t.Errorf("status does not say %s is up to date:\n%s", s, st.stdout)
		}
	}
	wantContains(t, "status", st.stdout, "status: 6 up to date, 0 pending, 0 missing, 0 drifted")
	wantContains(t, "status --verify", f.ok("status", "--verify").stdout, "status: 6 up to date")

	r = f.ok("apply")
	wantContains(t, "second apply", r.stdout, "apply: 0 applied, 6 up to date, 0 refused, 0 failed")
	if strings.Contains(r.stdout, "applied ") {
		t.Errorf("second apply changed a schema:\n%s", r.stdout)
	}
}

func TestAddColumn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.edit("apps/tenant/notes.sql", "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,")

	wantContains(t, "status", f.ok("status", "--tenants").stdout, "status: 0 up to date, 3 pending")
	plan := f.ok("plan")
	for _, s := range []string{"sample", "acme", "globex"} {
		wantContains(t, "plan", plan.stdout, `ALTER TABLE "`+s+`"."notes" ADD COLUMN "pinned" boolean NOT NULL DEFAULT false;`)
	}
	wantContains(t, "plan", plan.stdout, "plan: 3 to change, 3 up to date, 0 refused, 0 failed")
	for _, s := range []string{"sample", "acme", "globex"} {
		if slices.Contains(f.columns(s, "notes"), "pinned") {
			t.Fatalf("plan added the column to %s", s)
		}
	}

	r := f.ok("apply")
	wantContains(t, "apply", r.stdout, `applied dynamic "acme": 1 statement`, "apply: 3 applied, 3 up to date")
	for _, s := range []string{"sample", "acme", "globex"} {
		if !slices.Contains(f.columns(s, "notes"), "pinned") {
			t.Errorf("no column %s.notes.pinned after apply: %v", s, f.columns(s, "notes"))
		}
	}
}

func TestRemoveColumnRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.edit("apps/tenant/notes.sql", "value   text NOT NULL,\n", "")

	r := f.want(1, "apply")
	wantContains(t, "stderr", r.stderr, `reference "sample"`, "drop column settings.value", "--allow-destructive")
	wantContains(t, "stdout", r.stdout, "1 refused", "2 skipped")
	r = f.want(1, "apply", "--continue-on-error")
	for _, s := range []string{`reference "sample"`, `dynamic "acme"`, `dynamic "globex"`} {
		if !regexp.MustCompile(`(?m)^error: ` + regexp.QuoteMeta(s) + `: .*drop column settings\.value`).MatchString(r.stderr) {
			t.Errorf("stderr has no line for %s and the column:\n%s", s, r.stderr)
		}
	}
	for _, s := range []string{"sample", "acme", "globex"} {
		if !slices.Contains(f.columns(s, "settings"), "value") {
			t.Errorf("a refused apply dropped %s.settings.value", s)
		}
	}

	f.ok("apply", "--allow-destructive")
	for _, s := range []string{"sample", "acme", "globex"} {
		if slices.Contains(f.columns(s, "settings"), "value") {
			t.Errorf("%s.settings.value is still there after --allow-destructive", s)
		}
	}
}

func TestRenameThroughStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.exec(`INSERT INTO blog.users (id, email) VALUES (1, 'ann@example.test')`)
	f.exec(`INSERT INTO blog.posts (title, author_id) VALUES ('first', 1), ('second', 1)`)

	f.edit("apps/blog/posts.sql", "title      text NOT NULL,", "headline   text NOT NULL,")
	f.write("apps/blog/steps/0001_rename_title.sql", "ALTER TABLE posts RENAME COLUMN title TO headline;\n")
	plan := f.ok("plan", "-s", "blog")
	wantContains(t, "plan", plan.stdout, "-- step blog/0001_rename_title")
	if strings.Contains(plan.stdout, "DROP COLUMN") {
		t.Errorf("the plan drops a column instead of relying on the step:\n%s", plan.stdout)
	}

	r := f.ok("apply")
	wantContains(t, "apply", r.stdout, `applied static "blog": 1 step`)
	got := f.strings(`SELECT headline FROM blog.posts ORDER BY id`)
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("blog.posts headlines after the rename = %v, want [first second]", got)
	}

	r = f.ok("apply", "--verify")
	wantContains(t, "second apply", r.stdout, "apply: 0 applied")
	if n := f.count(`SELECT count(*) FROM public.pgschemas_step WHERE schema_name = 'blog'`); n != 1 {
		t.Errorf("blog has %d recorded steps, want 1", n)
	}
	if got := f.strings(`SELECT headline FROM blog.posts ORDER BY id`); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("blog.posts headlines after the second apply = %v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		file  string // relative to the fixture; replaced by content
		old   string
		new   string
		wants []string // regular expressions that stderr must match
	}{
		{
			name: "unknown attribute", file: "pgschemas.hcl",
			old: "public {\n  apps = [\"shared\"]\n", new: "public {\n  apps = [\"shared\"]\n  colour = \"red\"\n",
			wants: []string{`(?m)^error: \S*pgschemas\.hcl:6,\d+: .*colour`},
		},
		{
			name: "unknown app", file: "pgschemas.hcl",
			old: `apps    = ["auth", "main"]`, new: `apps    = ["auth", "nope"]`,
			wants: []string{`(?m)^error: \S*pgschemas\.hcl:9,\d+: .*nope`},
		},
		{
			name: "bad HCL", file: "pgschemas.hcl",
			old: "static \"blog\" {\n", new: "static \"blog\" {\n  apps = [\n",
			wants: []string{`(?m)^error: \S*pgschemas\.hcl:1[4-9],\d+`},
		},
		{
			name: "bad SQL in an app", file: "apps/main/pages.sql",
			old: "title     text NOT NULL,", new: "title     txet NOT NULL,",
			wants: []string{`(?m)^error: .*\bmain\b.*pages\.sql:3\b`},
		},
		{
			name: "bad HCL in an app", file: "apps/auth/users.hcl",
			old: "table \"users\" {", new: "table \"users\" {{",
			wants: []string{`(?m)^error: .*\bauth\b.*users\.hcl:6\b`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.edit(tc.file, tc.old, tc.new)
			r := f.want(1, "apply")
			for _, w := range tc.wants {
				if !regexp.MustCompile(w).MatchString(r.stderr) {
					t.Errorf("stderr does not match %s:\n%s", w, r.stderr)
				}
			}
			if f.schemaExists("www") {
				t.Errorf("a failed apply created www")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"apply", "--nope"},
		{"nope"},
		{},
		{"tenant"},
		{"tenant", "create"},
		{"tenant", "drop", "x"},
		{"exec", "-s", "www", "-c", "SELECT 1", "-f", "x.sql"},
		{"exec", "-s", "www"},
		{"exec", "-c", "SELECT 1"},
		{"whowill"},
		{"inspect"},
		{"apply", "--parallel", "-1"},
		{"apply", "--parallel", "two"},
		{"clone", "sample"},
		{"tenant", "create", "x", "--domain", "https://x.test"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			// No database: a usage error is found before connecting.
			r := runBinary(t, append([]string{"--url", "postgres://nobody@127.0.0.1:1/none"}, args...)...)
			if r.code != 2 {
				t.Fatalf("want exit 2, got %v", r)
			}
			wantContains(t, "stderr", r.stderr, "error: ", "--help' for usage")
		})
	}
	r := runBinary(t, "tenant", "drop", "acme")
	wantContains(t, "stderr", r.stderr, `tenant drop "acme" deletes schema "acme"`, "--yes")
	if r := runBinary(t, "--help"); r.code != 0 || !strings.Contains(r.stdout, "createrefschema") {
		t.Errorf("--help: %v", r)
	}
}

func TestNoDatabase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.url = "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"
	r := f.want(1, "status")
	wantContains(t, "stderr", r.stderr, "error: connect to the database")
}

func TestSelectors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dynamic"}, "acme    dynamic\nglobex  dynamic\n"},
		{[]string{"--tenants"}, "sample  reference\nacme    dynamic\nglobex  dynamic\n"},
		{[]string{"--static"}, "public  public\nwww     static\nblog    static\nsample  reference\n"},
		{[]string{"-s", "acme.example.test"}, "acme  dynamic\n"},
		{[]string{"-s", "shared.example.test/globex"}, "globex  dynamic\n"},
		{[]string{"-s", "help.example.test"}, "blog  static\n"},
		{[]string{"--all", "-x", "www", "-x", "acme.example.test"}, "public  public\nblog    static\nsample  reference\nglobex  dynamic\n"},
	} {
		if got := f.ok(append([]string{"whowill"}, tc.args...)...).stdout; got != tc.want {
			t.Errorf("whowill %v = %q, want %q", tc.args, got, tc.want)
		}
	}
	r := f.want(1, "whowill", "-s", "nowhere.example.test")
	wantContains(t, "stderr", r.stderr, `"nowhere.example.test"`, "no such schema")
}

func TestExec(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	r := f.ok("exec", "-s", "acme", "-c", "INSERT INTO notes(body) VALUES ('x')")
	wantContains(t, "exec", r.stdout, "exec: ran in 1 of 1 schema")
	for s, want := range map[string]int{"acme": 1, "globex": 0, "sample": 0} {
		if n := f.count(`SELECT count(*) FROM ` + s + `.notes`); n != want {
			t.Errorf("%s.notes has %d rows, want %d", s, n, want)
		}
	}

	f.write("fix.sql", "UPDATE notes SET body = body || '!';\nINSERT INTO settings (key, value) VALUES ('theme', 'dark');\n")
	f.ok("exec", "--dynamic", "-f", f.dir+"/fix.sql")
	if got := f.strings(`SELECT body FROM acme.notes`); !slices.Equal(got, []string{"x!"}) {
		t.Errorf("acme.notes bodies = %v", got)
	}
	if n := f.count(`SELECT count(*) FROM globex.settings`); n != 1 {
		t.Errorf("globex.settings has %d rows, want 1", n)
	}

	// A failure names its schema; the other schemas still run.
	f.exec(`INSERT INTO acme.settings (key, value) VALUES ('boom', 'z')`)
	r = f.want(1, "exec", "--tenants", "-c", "INSERT INTO settings (key, value) VALUES ('boom', 'z')")
	wantContains(t, "stderr", r.stderr, `error: dynamic "acme"`)
	wantContains(t, "stdout", r.stdout, "exec: ran in 2 of 3 schemas")
	if n := f.count(`SELECT count(*) FROM globex.settings WHERE key = 'boom'`); n != 1 {
		t.Errorf("globex did not run after acme failed")
	}
}

func TestTenantDrop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.ok("exec", "-s", "acme", "-c", "INSERT INTO notes(body) VALUES ('x')")

	r := f.want(1, "tenant", "drop", "www", "--yes")
	wantContains(t, "stderr", r.stderr, `"www"`, "not a dynamic tenant")
	if !f.schemaExists("www") {
		t.Fatal("tenant drop www dropped www")
	}

	f.ok("tenant", "drop", "acme", "--yes")
	if f.schemaExists("acme") {
		t.Error("schema acme is still there")
	}
	if n := f.count(`SELECT count(*) FROM public.pgschemas_tenant WHERE schema_name = 'acme'`); n != 0 {
		t.Errorf("acme still has a tenant row")
	}
	if n := f.count(`SELECT count(*) FROM public.pgschemas_domain WHERE tenant = 'acme'`); n != 0 {
		t.Errorf("acme still has domains")
	}
	if got := f.ok("tenant", "list").stdout; got != "NAME    DOMAINS\nglobex  shared.example.test/globex (primary)\n" {
		t.Errorf("tenant list after the drop = %q", got)
	}
	f.want(1, "tenant", "drop", "acme", "--yes")
}

func TestInspect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	r := f.ok("inspect", "-s", "sample")
	wantContains(t, "inspect", r.stdout, `table "notes"`, `table "users"`, `enum "role"`)
	if strings.Contains(r.stdout, "pgschemas_") {
		t.Errorf("inspect shows the engine's tables:\n%s", r.stdout)
	}
	r = f.ok("inspect", "-s", "acme.example.test", "--json")
	if e := parseEnvelope(t, r); e.raw["schema"] != "acme" || !strings.Contains(fmt.Sprint(e.raw["hcl"]), `table "notes"`) {
		t.Errorf("inspect by domain: %s", e.text)
	}
	r = f.want(1, "inspect", "-s", "nope")
	wantContains(t, "stderr", r.stderr, `"nope"`)
}

func TestJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.edit("apps/tenant/notes.sql", "value   text NOT NULL,\n", "")
	r := f.want(1, "apply", "--json", "--continue-on-error")
	var doc struct {
		Command  string
		OK       bool
		ExitCode int `json:"exit_code"`
		Error    *struct{ Message string }
		Results  []struct {
			Schema, Kind, Outcome string
			Error                 *struct{ Message, Schema string }
			Destructive           []string
		}
		Totals map[string]int
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("apply --json: %v\n%s", err, r.stdout)
	}
	outcomes := map[string]string{}
	for _, res := range doc.Results {
		outcomes[res.Schema] = res.Outcome
		if res.Outcome == "refused" && (res.Error == nil || !strings.Contains(res.Error.Message, "settings.value") || res.Error.Schema != res.Schema) {
			t.Errorf("%s: error %+v does not name the schema and the column", res.Schema, res.Error)
		}
	}
	want := map[string]string{"public": "up_to_date", "www": "up_to_date", "blog": "up_to_date",
		"sample": "refused", "acme": "refused", "globex": "refused"}
	if doc.Command != "apply" || doc.OK || doc.ExitCode != 1 || doc.Error == nil || !mapsEqual(outcomes, want) {
		t.Errorf("apply --json: command %q, ok %v, exit code %d, error %v, outcomes %v; want %v", doc.Command, doc.OK, doc.ExitCode, doc.Error, outcomes, want)
	}
	if doc.Totals["schemas"] != 6 || doc.Totals["refused"] != 3 || doc.Totals["up_to_date"] != 3 {
		t.Errorf("totals = %v", doc.Totals)
	}
	// Failures are still on stderr.
	wantContains(t, "apply --json stderr", r.stderr, `error: reference "sample"`)

	r = f.ok("plan", "--json", "--allow-destructive", "--dynamic")
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, r.stdout)
	}
	if doc.Totals["planned"] != 2 || len(doc.Results) != 2 || doc.Results[0].Outcome != "planned" || !doc.OK || doc.Error != nil {
		t.Errorf("plan --json: %+v", doc)
	}

	var st struct {
		Command string
		Schemas []struct{ Schema, State string }
		Totals  map[string]int
	}
	if err := json.Unmarshal([]byte(f.ok("status", "--json").stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.Command != "status" || len(st.Schemas) != 6 || st.Totals["pending"] != 3 || st.Totals["up_to_date"] != 3 || st.Schemas[0].State != "up_to_date" {
		t.Errorf("status --json: %+v", st)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestClone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.exec(`INSERT INTO sample.settings (key, value) VALUES ('seed', '1')`)
	f.ok("clone", "sample", "copy1")
	if got, want := f.tables("copy1"), f.tables("sample"); !slices.Equal(got, want) {
		t.Errorf("copy1 has tables %v, want %v", got, want)
	}
	if n := f.count(`SELECT count(*) FROM copy1.settings`); n != 1 {
		t.Errorf("copy1.settings has %d rows, want the reference's 1", n)
	}
	wantContains(t, "inspect", f.ok("inspect", "-s", "copy1").stdout, `table "notes"`)
	r := f.want(1, "clone", "sample", "copy1")
	wantContains(t, "stderr", r.stderr, `"copy1"`, "exists")

	f.ok("clone", "acme", "acme2", "--tenant")
	if got := f.ok("tenant", "list").stdout; !regexp.MustCompile(`(?m)^acme2\s+-$`).MatchString(got) {
		t.Errorf("tenant list does not show acme2 without domains:\n%s", got)
	}
}

func TestCreateRefSchema(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok("apply", "--static", "-x", "sample")
	if f.schemaExists("sample") {
		t.Fatal("sample exists before createrefschema")
	}
	wantContains(t, "createrefschema", f.ok("createrefschema").stdout, `applied reference "sample"`)
	f.exec(`INSERT INTO sample.settings (key, value) VALUES ('seed', '1')`)
	wantContains(t, "createrefschema", f.ok("createrefschema").stdout, "0 applied, 1 up to date")
	f.ok("createrefschema", "--recreate")
	if n := f.count(`SELECT count(*) FROM sample.settings`); n != 0 {
		t.Errorf("--recreate kept the reference's rows")
	}
}
