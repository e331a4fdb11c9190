package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

// badDomainArgs are the hosts and folders that the CLI once stored (issue 16), each with the rule
// its refusal must name.
var badDomainArgs = []struct{ arg, rule string }{
	{"a..b", "empty label"},
	{".host", "starts with a dot"},
	{"*.example.test", "wildcard '*'"},
	{strings.Repeat("a", 64) + ".test", "is 64 bytes long; a label has 1 to 63"},
	{strings.Repeat("a", 300), "300 bytes long, the limit is 253"},
	{`host\test`, `character '\\' at byte 4`},
	{"host;test", "character ';' at byte 4"},
	{"host.test\n", "control character U+000A at byte 9"},
	{"ok.test/.", "relative path segment"},
	{"ok.test/..", "relative path segment"},
	{"ok.test/f o", "character ' ' at byte 1"},
	{"ok.test/f?x", "character '?' at byte 1"},
	{"ok.test/f#x", "character '#' at byte 1"},
	{"ok.test/f\x7f", "control character U+007F at byte 1"},
	{"ok.test/a/b", "one path segment"},
	{"https://ok.test", "has a scheme"},
}

// TestDomainArgumentsRefused: every bad host or folder, given to domain add, remove, set-primary
// or tenant create --domain, is a usage error (exit 2, before connecting) that names the rule.
func TestDomainArgumentsRefused(t *testing.T) {
	t.Parallel()
	for _, c := range badDomainArgs {
		for _, args := range [][]string{
			{"domain", "add", "acme", c.arg},
			{"domain", "remove", c.arg},
			{"domain", "set-primary", c.arg},
			{"tenant", "create", "acme", "--domain", c.arg},
		} {
			r := runBinary(t, append([]string{"--url", "postgres://nobody@127.0.0.1:1/none"}, args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.rule) || !strings.Contains(r.stderr, "invalid domain") {
				t.Errorf("schemaset %q: want exit 2 and %q, got %v", args, c.rule, r)
			}
		}
	}
}

// TestDomainCommands: add, list, set-primary and remove through the binary, with their refusals,
// and a router of another process that sees each change within a second.
func TestDomainCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	res := f.router()

	wantContains(t, "domain add", f.ok("domain", "add", "acme", "Ünicode.example.test").stdout,
		`added domain xn--nicode-2ya.example.test to tenant "acme"`+"\n")
	res.routes("added in Unicode", "ünicode.example.test", "/", "acme")
	if got := f.ok("whowill", "-s", "ÜNICODE.example.test").stdout; got != "acme  dynamic\n" {
		t.Errorf("whowill -s by a Unicode domain = %q", got)
	}

	var row struct {
		Command, Tenant, Domain, Folder string
		OK                              bool
		RedirectToPrimary               bool `json:"redirect_to_primary"`
	}
	out := f.ok("domain", "add", "acme", "shared.example.test/acme", "--redirect-to-primary", "--json").stdout
	if err := json.Unmarshal([]byte(out), &row); err != nil || row.Command != "domain add" || !row.OK || row.Tenant != "acme" ||
		row.Domain != "shared.example.test" || row.Folder != "acme" || !row.RedirectToPrimary {
		t.Errorf("domain add --json = %+v, %v:\n%s", row, err, out)
	}
	res.routes("added a folder", "shared.example.test", "/acme/notes", "acme")

	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"domain", "add", "globex", "ACME.example.test."}, 1, `acme.example.test already routes to tenant "acme"`},
		{[]string{"domain", "add", "acme", "shared.example.test/globex"}, 1, `already routes to tenant "globex"`},
		{[]string{"domain", "add", "acme", "blog.example.test"}, 1, `static tenant "blog"`},
		{[]string{"domain", "add", "nobody", "free.test"}, 1, `no tenant "nobody"`},
		{[]string{"domain", "add", "www", "free.test"}, 1, `not a dynamic tenant`},
		{[]string{"domain", "add", "acme", "free.test", "--primary", "--redirect-to-primary"}, 2, "none of the others can be"},
		{[]string{"domain", "add", "acme"}, 2, "want 2 argument(s)"},
		{[]string{"domain", "remove", "nowhere.test"}, 1, "no such domain"},
		{[]string{"domain", "set-primary", "nowhere.test"}, 1, "no such domain"},
		{[]string{"domain", "list", "nobody"}, 1, `no tenant "nobody"`},
		{[]string{"domain"}, 2, "missing domain command"},
	} {
		r := f.want(c.code, c.args...)
		wantContains(t, strings.Join(c.args, " "), r.stderr, c.says)
	}

	want := "TENANT  HOST                         FOLDER  PRIMARY  REDIRECT\n" +
		"acme    acme.example.test            -       yes      -\n" +
		"acme    shared.example.test          acme    -        yes\n" +
		"acme    xn--nicode-2ya.example.test  -       -        -\n" +
		"globex  shared.example.test          globex  yes      -\n"
	if got := f.ok("domain", "list").stdout; got != want {
		t.Errorf("domain list:\n%s\nwant:\n%s", got, want)
	}
	var list struct {
		Command string
		Domains []map[string]any
	}
	if err := json.Unmarshal([]byte(f.ok("domain", "list", "globex", "--json").stdout), &list); err != nil ||
		list.Command != "domain list" || len(list.Domains) != 1 || list.Domains[0]["tenant"] != "globex" || list.Domains[0]["folder"] != "globex" ||
		list.Domains[0]["primary"] != true || list.Domains[0]["redirect_to_primary"] != false {
		t.Errorf("domain list globex --json = %+v, %v", list, err)
	}

	wantContains(t, "set-primary", f.ok("domain", "set-primary", "ünicode.example.test").stdout,
		`xn--nicode-2ya.example.test is the primary domain of tenant "acme"`)
	res.primary("set primary", "acme.example.test", "xn--nicode-2ya.example.test")
	if got := f.strings(`SELECT domain FROM pgschemas_domain WHERE tenant = 'acme' AND is_primary`); len(got) != 1 || got[0] != "xn--nicode-2ya.example.test" {
		t.Errorf("acme's primary after set-primary = %q", got)
	}

	r := f.ok("domain", "remove", "xn--nicode-2ya.example.test")
	wantContains(t, "domain remove", r.stdout, `removed domain xn--nicode-2ya.example.test from tenant "acme"`, `tenant "acme" has no primary domain now`)
	res.routes("removed", "ünicode.example.test", "/", "none")
}

// TestTenantRenameCommand: tenant rename through the binary moves the schema, its rows and its
// domains, refuses what is not a dynamic tenant and names taken ignoring case, and a router sees
// the new name within a second.
func TestTenantRenameCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	res := f.router()
	res.routes("before", "acme.example.test", "/", "acme")
	f.ok("exec", "-s", "acme", "-c", "INSERT INTO notes (body) VALUES ('kept')")

	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"tenant", "rename", "www", "www2"}, "not a dynamic tenant"},
		{[]string{"tenant", "rename", "sample", "s2"}, "not a dynamic tenant"},
		{[]string{"tenant", "rename", "acme", "GLOBEX"}, `clashes with the tenant "globex"`},
		{[]string{"tenant", "rename", "acme", "Www"}, "clashes with static"},
		{[]string{"tenant", "rename", "nobody", "x"}, `no tenant "nobody"`},
	} {
		wantContains(t, strings.Join(c.args, " "), f.want(1, c.args...).stderr, c.says)
	}
	f.want(2, "tenant", "rename", "acme")

	wantContains(t, "tenant rename", f.ok("tenant", "rename", "acme", "acme_corp").stdout, `renamed tenant "acme" to "acme_corp"`)
	res.routes("renamed", "acme.example.test", "/", "acme_corp")
	if f.schemaExists("acme") || !f.schemaExists("acme_corp") {
		t.Fatal("the schema was not renamed")
	}
	if got := f.strings(`SELECT body FROM acme_corp.notes`); len(got) != 1 || got[0] != "kept" {
		t.Errorf("acme_corp.notes = %q, want the row written before", got)
	}
	if !regexp.MustCompile(`(?m)^acme_corp\s+acme\.example\.test \(primary\)$`).MatchString(f.ok("tenant", "list").stdout) {
		t.Errorf("tenant list does not show acme_corp with its domain")
	}
	wantContains(t, "status", f.ok("status", "--dynamic").stdout, "status: 2 up to date, 0 pending, 0 missing")
	var doc struct {
		Command, Name string
		OldName       string `json:"old_name"`
	}
	if err := json.Unmarshal([]byte(f.ok("tenant", "rename", "acme_corp", "acme", "--json").stdout), &doc); err != nil ||
		doc.Command != "tenant rename" || doc.OldName != "acme_corp" || doc.Name != "acme" {
		t.Errorf("tenant rename --json = %+v, %v", doc, err)
	}
}

// TestTenantNamesCommand: tenant create refuses a name that differs from another tenant's only in
// case, and quotes a non-ASCII character whole.
func TestTenantNamesCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	wantContains(t, "tenant create ACME", f.want(1, "tenant", "create", "ACME").stderr, `clashes with the tenant "acme"`)
	wantContains(t, "tenant create über", f.want(1, "tenant", "create", "über").stderr, `character 'ü' at byte 0`)
	if n := f.count(`SELECT count(*) FROM pgschemas_tenant`); n != 2 {
		t.Errorf("%d tenants, want 2", n)
	}
}

// TestTenantListStats: tenant list --stats, as text and as JSON, with the catalog's figures.
func TestTenantListStats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	f.exec(`INSERT INTO acme.notes (body) SELECT 'n' || g FROM generate_series(1, 3000) g`)
	f.exec(`VACUUM ANALYZE acme.notes`)
	out := f.ok("tenant", "list", "--stats").stdout
	for _, re := range []string{
		`^NAME\s+SIZE\s+TABLES\s+ROWS\s+LAST APPLY\s+DOMAINS\n`,
		`(?m)^acme\s+\d+ kB\s+3\s+3000\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+acme\.example\.test \(primary\)$`,
		`(?m)^globex\s+\d+ (bytes|kB)\s+3\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+shared\.example\.test/globex \(primary\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("tenant list --stats does not match %s:\n%s", re, out)
		}
	}
	var doc struct {
		Command string
		OK      bool
		Tenants []struct {
			Name    string
			Domains []struct{ Domain, Folder string }
			Stats   *struct {
				SizeBytes     int64      `json:"size_bytes"`
				Tables        int        `json:"tables"`
				EstimatedRows int64      `json:"estimated_rows"`
				AppliedAt     *time.Time `json:"applied_at"`
			}
		}
	}
	if err := json.Unmarshal([]byte(f.ok("tenant", "list", "--stats", "--json").stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Command != "tenant list" || !doc.OK || len(doc.Tenants) != 2 {
		t.Fatalf("tenant list --stats --json = %+v", doc)
	}
	a := doc.Tenants[0]
	if a.Name != "acme" || len(a.Domains) != 1 || a.Domains[0].Domain != "acme.example.test" || a.Stats == nil ||
		a.Stats.Tables != 3 || a.Stats.EstimatedRows != 3000 || a.Stats.SizeBytes < 3000*30 || a.Stats.AppliedAt == nil {
		t.Errorf("acme in tenant list --stats --json = %+v, stats %+v", a, a.Stats)
	}
	var plain struct{ Tenants []map[string]any }
	if err := json.Unmarshal([]byte(f.ok("tenant", "list", "--json").stdout), &plain); err != nil || len(plain.Tenants) != 2 || plain.Tenants[0]["stats"] != nil {
		t.Errorf("tenant list --json has stats without --stats: %+v, %v", plain, err)
	}
}

// TestLogFormat: --log-format logs one event per tenant change and per schema applied, as JSON or
// text on stderr, and refuses other formats.
func TestLogFormat(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setup()
	r := f.ok("--log-format", "json", "tenant", "create", "delta", "--domain", "delta.test")
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stderr)), &rec); err != nil {
		t.Fatalf("stderr is not one JSON record: %v\n%s", err, r.stderr)
	}
	if rec["msg"] != "pgschemas created" || rec["kind"] != "created" || rec["op"] != "create_tenant" || rec["schema"] != "delta" ||
		rec["source"] != "cloned" || rec["level"] != "INFO" || rec["time"] == nil || rec["duration"] == nil {
		t.Errorf("event record = %v", rec)
	}
	r = f.ok("--log-format", "json", "domain", "add", "delta", "www.delta.test", "--redirect-to-primary")
	wantContains(t, "domain event", r.stderr, `"kind":"domain_changed"`, `"op":"add_domain"`, `"domain":"www.delta.test"`)
	r = f.want(1, "--log-format", "json", "tenant", "drop", "nobody", "--yes")
	wantContains(t, "failed event", r.stderr, `"level":"ERROR"`, `"kind":"failed"`, `"op":"drop_tenant"`)

	f.edit("apps/tenant/notes.sql", "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,")
	r = f.ok("--log-format", "text", "apply")
	for _, s := range []string{"sample", "acme", "globex", "delta"} {
		if !regexp.MustCompile(`(?m)^time=\S+ level=INFO msg="pgschemas applied" kind=applied op=apply schema=` + s + ` schema_kind=\w+ statements=1 steps=0 duration=\S+$`).MatchString(r.stderr) {
			t.Errorf("no text record of %s applied:\n%s", s, r.stderr)
		}
	}
	if strings.Contains(f.ok("apply").stderr, "pgschemas applied") {
		t.Error("events are logged without --log-format")
	}
	wantContains(t, "bad format", f.want(2, "--log-format", "yaml", "tenant", "list").stderr, `--log-format "yaml": want text or json`)
}

// router is a resolver, in the test's process, of the fixture's database and config, as an
// application beside the CLI would run it.
type router struct {
	t *testing.T
	r *resolve.Resolver
}

func (f *fixture) router() *router {
	f.t.Helper()
	set, err := schemaset.LoadFile(filepath.Join(f.dir, "pgschemas.hcl"))
	if err != nil {
		f.t.Fatal(err)
	}
	db, err := sql.Open("pgschemas", f.url)
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := resolve.New(set.Config, db, resolve.Options{TTL: time.Hour})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { r.Close(); db.Close() })
	rt := &router{t: f.t, r: r}
	rt.within("the router listens", r.Listening)
	return rt
}

// within fails the test unless cond holds within a second.
func (rt *router) within(what string, cond func() bool) {
	rt.t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			rt.t.Fatalf("not within a second: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// routes waits until host and path route to tenant ("none": to no tenant).
func (rt *router) routes(step, host, path, tenant string) {
	rt.t.Helper()
	rt.within(step+": "+host+path+" routes to "+tenant, func() bool {
		got, _, err := rt.r.Resolve(context.Background(), host, path)
		return got.Schema == tenant || tenant == "none" && errors.Is(err, resolve.ErrNoTenant)
	})
}

// primary waits until host's tenant has the primary domain primary.
func (rt *router) primary(step, host, primary string) {
	rt.t.Helper()
	rt.within(step+": "+host+"'s tenant has the primary "+primary, func() bool {
		got, _, err := rt.r.Resolve(context.Background(), host, "/")
		return err == nil && got.PrimaryDomain == primary
	})
}
