package schemaset

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"

	"github.com/pgschemas/pgschemas/driver"
)

// checkProblems asserts that err is a *ConfigError whose lines are want, and, unless is is nil, that
// err and each of its problems wrap is.
func checkProblems(t *testing.T, err error, is error, want ...string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *ConfigError", err, err)
	}
	if got := strings.Split(ce.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if is == nil {
		return
	}
	if !errors.Is(err, is) {
		t.Errorf("errors.Is(err, %v) = false", is)
	}
	for _, p := range ce.Problems {
		if !errors.Is(p, is) {
			t.Errorf("problem %q does not wrap %v", p.Message, is)
		}
	}
}

// problemCase is one config source and the problems it must give.
type problemCase struct {
	name string
	src  string
	is   error    // the sentinel that every problem wraps
	want []string // the lines of the error
}

// runProblemCases runs each case through parse, which returns the error of the source.
func runProblemCases(t *testing.T, cases []problemCase, parse func(src string) error) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkProblems(t, parse(tc.src), tc.is, tc.want...)
		})
	}
}

// parseSource is ParseConfig of src as pgschemas.hcl, for runProblemCases.
func parseSource(src string) error {
	c, err := ParseConfig([]byte(src), "pgschemas.hcl")
	if err == nil && c == nil {
		return errors.New("ParseConfig returned neither a Config nor an error")
	}
	return err
}

func TestParseConfigSyntaxAndStructure(t *testing.T) {
	runProblemCases(t, []problemCase{{
		name: "syntax error",
		src:  "public {\n  apps = [\"shared\" \"auth\"]\n}\n",
		is:   ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:2,20: Missing item separator; Expected a comma to mark the beginning of the next item.`,
		},
	}, {
		name: "unclosed block",
		src:  "public {\n  apps = []\n",
		is:   ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:1,8: Unclosed configuration block; There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.`,
		},
	}, {
		name: "unknown top-level attribute and block",
		src:  "app_dir = \"apps\"\n\ntenants {}\n",
		is:   ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:1,1: Unsupported argument; An argument named "app_dir" is not expected here. Did you mean "apps_dir"?`,
			`pgschemas.hcl:3,1: Unsupported block type; Blocks of type "tenants" are not expected here.`,
		},
	}, {
		name: "unknown attribute and block inside blocks",
		src: `public {
  app = ["shared"]
}
static "www" {
  domain = ["a.test"]
  tables {}
}
dynamic {
  reference = "sample"
}
`,
		is: ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:2,3: Unsupported argument; An argument named "app" is not expected here. Did you mean "apps"?`,
			`pgschemas.hcl:5,3: Unsupported argument; An argument named "domain" is not expected here. Did you mean "domains"?`,
			`pgschemas.hcl:6,3: Unsupported block type; Blocks of type "tables" are not expected here.`,
			`pgschemas.hcl:9,3: Unsupported argument; An argument named "reference" is not expected here.`,
		},
	}, {
		name: "block written as an attribute",
		src:  "public = {}\n",
		is:   ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:1,1: Unsupported argument; An argument named "public" is not expected here. Did you mean to define a block of type "public"?`,
		},
	}, {
		name: "wrong types",
		src: `apps_dir           = 3
extra_search_paths = "extensions"
public {
  apps = [1, "shared", true]
}
static "www" {
  domains          = "a.test"
  fallback_domains = null
}
dynamic {
  apps            = ["auth"]
  clone_reference = ["sample"]
}
`,
		is: ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:1,22: apps_dir: must be a string, not number`,
			`pgschemas.hcl:2,22: extra_search_paths: must be a list of strings, not string`,
			`pgschemas.hcl:4,11: public: apps[0]: must be a string, not number`,
			`pgschemas.hcl:4,24: public: apps[1]: must be a string, not bool`,
			`pgschemas.hcl:7,22: static "www": domains: must be a list of strings, not string`,
			`pgschemas.hcl:8,22: static "www": fallback_domains: must be a list of strings, not null`,
			`pgschemas.hcl:12,21: dynamic: clone_reference: must be a string, not tuple`,
		},
	}, {
		name: "variables are not allowed",
		src:  "public {\n  apps = [var.shared]\n}\n",
		is:   ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:2,11: Variables not allowed; Variables may not be used here.`,
		},
	}, {
		name: "second public and dynamic blocks",
		src: `public {}
dynamic {}

public {}
dynamic {}
`,
		is: ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:4,1: public: a second public block; the first is at line 1, and only one is allowed`,
			`pgschemas.hcl:5,1: dynamic: a second dynamic block; the first is at line 2, and only one is allowed`,
		},
	}, {
		name: "static without a label or with two",
		src:  "static {}\nstatic \"www\" \"blog\" {}\n",
		is:   ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:1,8: Missing name for static; All static blocks must have 1 labels (name).`,
			`pgschemas.hcl:2,14: Extraneous label for static; Only 1 labels (name) are expected for static blocks.`,
		},
	}, {
		name: "app listed twice in one block",
		src:  "public {\n  apps = [\"shared\", \"auth\", \"shared\"]\n}\nstatic \"www\" {\n  apps = [\"auth\", \"auth\"]\n}\n",
		is:   ErrInvalidConfig,
		want: []string{
			`pgschemas.hcl:2,29: public: apps[2]: app "shared" is listed twice`,
			`pgschemas.hcl:5,19: static "www": apps[1]: app "auth" is listed twice`,
		},
	}, {
		name: "apps_dir absolute",
		src:  "apps_dir = \"/srv/apps\"\n",
		is:   ErrInvalidConfig,
		want: []string{`pgschemas.hcl:1,12: apps_dir: "/srv/apps" must be a relative path with / separators`},
	}, {
		name: "apps_dir escapes the config's folder",
		src:  "apps_dir = \"modules/../../apps\"\n",
		is:   ErrInvalidConfig,
		want: []string{`pgschemas.hcl:1,12: apps_dir: "modules/../../apps" must stay inside the config's folder`},
	}, {
		name: "apps_dir parent",
		src:  "apps_dir = \"..\"\n",
		is:   ErrInvalidConfig,
		want: []string{`pgschemas.hcl:1,12: apps_dir: ".." must stay inside the config's folder`},
	}, {
		name: "apps_dir with backslashes",
		src:  "apps_dir = \"..\\\\apps\"\n",
		is:   ErrInvalidConfig,
		want: []string{`pgschemas.hcl:1,12: apps_dir: "..\\apps" must be a relative path with / separators`},
	}}, parseSource)
}

func TestParseConfigNames(t *testing.T) {
	long := strings.Repeat("a", 64)
	runProblemCases(t, []problemCase{{
		name: "invalid static names",
		src:  "static \"pg_temp\" {}\nstatic \"1st\" {}\nstatic \"my-site\" {}\nstatic \"" + long + "\" {}\nstatic \"\" {}\n",
		is:   ErrInvalidName,
		want: []string{
			`pgschemas.hcl:1,8: static "pg_temp": invalid schema name "pg_temp": names starting with pg_ are reserved by PostgreSQL`,
			`pgschemas.hcl:2,8: static "1st": invalid schema name "1st": character '1' at byte 0: must match ^[_a-zA-Z][_a-zA-Z0-9]{0,62}$`,
			`pgschemas.hcl:3,8: static "my-site": invalid schema name "my-site": character '-' at byte 2: must match ^[_a-zA-Z][_a-zA-Z0-9]{0,62}$`,
			`pgschemas.hcl:4,8: static "` + long + `": invalid schema name "` + long + `": 64 bytes long, the limit is 63`,
			`pgschemas.hcl:5,8: static "": invalid schema name "": empty`,
		},
	}, {
		name: "reserved prefix",
		src:  "static \"pgschemas_www\" {}\ndynamic {\n  clone_reference = \"PGSchemas_sample\"\n}\n",
		is:   ErrInvalidName,
		want: []string{
			`pgschemas.hcl:1,8: static "pgschemas_www": invalid schema name "pgschemas_www": names starting with pgschemas_ are reserved by pgschemas`,
			`pgschemas.hcl:3,21: dynamic: clone_reference: invalid schema name "PGSchemas_sample": names starting with pgschemas_ are reserved by pgschemas`,
		},
	}, {
		name: "invalid clone_reference and extra_search_paths",
		src:  "extra_search_paths = [\"ext\", \"pg_catalog\", \"my ext\"]\ndynamic {\n  clone_reference = \"Pg_sample\"\n}\n",
		is:   ErrInvalidName,
		want: []string{
			`pgschemas.hcl:1,30: extra_search_paths[1]: invalid schema name "pg_catalog": names starting with pg_ are reserved by PostgreSQL`,
			`pgschemas.hcl:1,44: extra_search_paths[2]: invalid schema name "my ext": character ' ' at byte 2: must match ^[_a-zA-Z][_a-zA-Z0-9]{0,62}$`,
			`pgschemas.hcl:3,21: dynamic: clone_reference: invalid schema name "Pg_sample": names starting with pg_ are reserved by PostgreSQL`,
		},
	}, {
		name: "invalid app names",
		src:  "public {\n  apps = [\"../shared\", \"\", \".\", \"a\\\\b\"]\n}\n",
		is:   ErrInvalidName,
		want: []string{
			`pgschemas.hcl:2,11: public: apps[0]: app "../shared" must be the name of one folder`,
			`pgschemas.hcl:2,24: public: apps[1]: app "" must be the name of one folder`,
			`pgschemas.hcl:2,28: public: apps[2]: app "." must be the name of one folder`,
			`pgschemas.hcl:2,33: public: apps[3]: app "a\\b" must be the name of one folder`,
		},
	}, {
		name: "duplicate static name",
		src:  "static \"www\" {}\nstatic \"blog\" {}\nstatic \"www\" {}\n",
		is:   ErrNameClash,
		want: []string{`pgschemas.hcl:3,8: static "www": name is declared twice`},
	}, {
		name: "static names clash ignoring case",
		src:  "static \"www\" {}\n\nstatic \"Www\" {}\n",
		is:   ErrNameClash,
		want: []string{`pgschemas.hcl:3,8: static "Www": name clashes with static "www" (names are compared ignoring case)`},
	}, {
		name: "static clashes with public",
		src:  "static \"public\" {}\nstatic \"PUBLIC\" {}\n",
		is:   ErrNameClash,
		want: []string{
			`pgschemas.hcl:1,8: static "public": name clashes with public`,
			`pgschemas.hcl:2,8: static "PUBLIC": name clashes with public (names are compared ignoring case)`,
		},
	}, {
		name: "reference clashes with a static",
		src:  "static \"sample\" {}\ndynamic {\n  apps            = []\n  clone_reference = \"Sample\"\n}\n",
		is:   ErrNameClash,
		want: []string{`pgschemas.hcl:4,21: dynamic: clone_reference: "Sample" clashes with static "sample" (names are compared ignoring case)`},
	}, {
		name: "reference clashes with public",
		src:  "dynamic {\n  clone_reference = \"Public\"\n}\n",
		is:   ErrNameClash,
		want: []string{`pgschemas.hcl:2,21: dynamic: clone_reference: "Public" clashes with public (names are compared ignoring case)`},
	}, {
		name: "extra search path overlaps public",
		src:  "extra_search_paths = [\"public\"]\n",
		is:   ErrSearchPathOverlap,
		want: []string{`pgschemas.hcl:1,23: extra_search_paths[0]: "public" overlaps public`},
	}, {
		name: "extra search path overlaps a static, the reference and another",
		src: `extra_search_paths = [
  "ext",
  "WWW",
  "sample",
  "Ext",
]
static "www" {}
dynamic {
  clone_reference = "sample"
}
`,
		is: ErrSearchPathOverlap,
		want: []string{
			`pgschemas.hcl:3,3: extra_search_paths[1]: "WWW" overlaps static "www" (names are compared ignoring case)`,
			`pgschemas.hcl:4,3: extra_search_paths[2]: "sample" overlaps the reference "sample"`,
			`pgschemas.hcl:5,3: extra_search_paths[3]: "Ext" overlaps extra_search_paths[0] "ext" (names are compared ignoring case)`,
		},
	}}, parseSource)
}

func TestParseConfigDomains(t *testing.T) {
	label64 := strings.Repeat("a", 64)
	long := strings.Repeat("abcdefghi.", 25) + "test" // 254 characters
	runProblemCases(t, []problemCase{{
		name: "domain claimed twice",
		src: `static "www" {
  domains          = ["example.test", "www.example.test"]
  fallback_domains = ["WWW.example.test."]
}
static "blog" {
  domains          = ["blog.example.test"]
  fallback_domains = ["example.test"]
}
`,
		is: ErrDuplicateDomain,
		want: []string{
			`pgschemas.hcl:3,23: static "www": fallback_domains[0]: domain "WWW.example.test." is already claimed by static "www" (domains[1]) as "www.example.test" (domains are compared in their stored form: lower case, punycode, without a trailing dot)`,
			`pgschemas.hcl:7,23: static "blog": fallback_domains[0]: domain "example.test" is already claimed by static "www" (domains[0])`,
		},
	}, {
		name: "malformed domains",
		src: `static "www" {
  domains = [
    "",
    "https://example.test",
    "example.test/blog",
    "example.test:8080",
    "my site.test",
    "my_site.test",
    "-site.test",
    "site-.test",
    "a..test",
    ".test",
    "` + label64 + `.test",
    "` + long + `",
    "*.test",
  ]
}
`,
		is: ErrInvalidName,
		want: []string{
			`pgschemas.hcl:3,5: static "www": domains[0]: domain "": empty`,
			`pgschemas.hcl:4,5: static "www": domains[1]: domain "https://example.test": has a scheme: write the host name only`,
			`pgschemas.hcl:5,5: static "www": domains[2]: domain "example.test/blog": has a path: write the host name only`,
			`pgschemas.hcl:6,5: static "www": domains[3]: domain "example.test:8080": has a port or is an IPv6 address: write the host name only`,
			`pgschemas.hcl:7,5: static "www": domains[4]: domain "my site.test": space character U+0020 at byte 2: a host holds no spaces`,
			`pgschemas.hcl:8,5: static "www": domains[5]: domain "my_site.test": character '_' at byte 2: a label holds letters, digits and inner hyphens`,
			`pgschemas.hcl:9,5: static "www": domains[6]: domain "-site.test": the label "-site" starts with a hyphen`,
			`pgschemas.hcl:10,5: static "www": domains[7]: domain "site-.test": the label "site-" ends with a hyphen`,
			`pgschemas.hcl:11,5: static "www": domains[8]: domain "a..test": has an empty label (two dots in a row, or nothing between dots)`,
			`pgschemas.hcl:12,5: static "www": domains[9]: domain ".test": starts with a dot`,
			`pgschemas.hcl:13,5: static "www": domains[10]: domain "` + label64 + `.test": the label "aaaaaaaaaaaaaaaaaaaa"... is 64 bytes long; a label has 1 to 63`,
			`pgschemas.hcl:14,5: static "www": domains[11]: domain "` + long + `": 254 bytes long, the limit is 253`,
			`pgschemas.hcl:15,5: static "www": domains[12]: domain "*.test": has the wildcard '*': a domain routes one host name; add each host`,
		},
	}}, parseSource)
}

func TestLoadConfigUnknownApps(t *testing.T) {
	runProblemCases(t, []problemCase{{
		name: "unknown apps in every block",
		src: `public {
  apps = ["shared", "billing"]
}
static "www" {
  apps = ["main", "auth"]
}
dynamic {
  apps = ["auth", "tenant", "tables.sql"]
}
`,
		is: ErrUnknownApp,
		want: []string{
			`pgschemas.hcl:2,21: public: apps[1]: app "billing" does not exist: no folder apps/billing`,
			`pgschemas.hcl:5,11: static "www": apps[0]: app "main" does not exist: no folder apps/main`,
			`pgschemas.hcl:8,29: dynamic: apps[2]: app "tables.sql" does not exist: no folder apps/tables.sql`,
		},
	}}, func(src string) error {
		fsys := fstest.MapFS{
			"pgschemas.hcl":          {Data: []byte(src)},
			"apps/shared/tables.sql": {},
			"apps/auth/tables.sql":   {},
			"apps/tenant/tables.sql": {},
			"apps/tables.sql":        {}, // a file, not an app
		}
		_, err := LoadConfig(fsys, "pgschemas.hcl")
		return err
	})

	runProblemCases(t, []problemCase{{
		name: "missing default apps folder",
		src:  "public {\n  apps = [\"shared\"]\n}\n",
		is:   ErrUnknownApp,
		want: []string{`conf/pgschemas.hcl: apps_dir: the apps folder conf/apps does not exist`},
	}, {
		name: "missing apps_dir",
		src:  "apps_dir = \"modules\"\npublic {\n  apps = [\"shared\"]\n}\n",
		is:   ErrUnknownApp,
		want: []string{`conf/pgschemas.hcl:1,12: apps_dir: the apps folder conf/modules does not exist`},
	}}, func(src string) error {
		fsys := fstest.MapFS{"conf/pgschemas.hcl": {Data: []byte(src)}, "apps/shared/x.sql": {}}
		_, err := LoadConfig(fsys, "conf/pgschemas.hcl")
		return err
	})
}

func TestLoadConfigInSubfolder(t *testing.T) {
	fsys := fstest.MapFS{
		"deploy/pgschemas.hcl":         {Data: []byte("apps_dir = \"db/apps\"\npublic {\n  apps = [\"shared\"]\n}\n")},
		"deploy/db/apps/shared/t.sql":  {},
		"deploy/db/apps/ignored/t.sql": {},
	}
	c, err := LoadConfig(fsys, "deploy/pgschemas.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.AppsRoot(), "deploy/db/apps"; got != want {
		t.Errorf("AppsRoot() = %q, want %q", got, want)
	}
	if c.File != "deploy/pgschemas.hcl" {
		t.Errorf("File = %q", c.File)
	}
}

func TestLoadConfigReadError(t *testing.T) {
	if _, err := LoadConfig(fstest.MapFS{}, "pgschemas.hcl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfig of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := LoadConfigFile("testdata/config/none/pgschemas.hcl"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfigFile of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestParseConfigReportsEveryProblem(t *testing.T) {
	src := `apps_dir = "/apps"
extra_search_paths = ["www"]
public {
  apps  = ["shared"]
  extra = true
}
static "www" {
  apps    = ["auth", "auth"]
  domains = ["www.example.test"]
}
static "WWW" {
  domains = ["www.example.test"]
}
dynamic {
  clone_reference = "pg_sample"
}
`
	_, err := ParseConfig([]byte(src), "pgschemas.hcl")
	checkProblems(t, err, nil,
		`pgschemas.hcl:1,12: apps_dir: "/apps" must be a relative path with / separators`,
		`pgschemas.hcl:2,23: extra_search_paths[0]: "www" overlaps static "www"`,
		`pgschemas.hcl:5,3: Unsupported argument; An argument named "extra" is not expected here.`,
		`pgschemas.hcl:8,22: static "www": apps[1]: app "auth" is listed twice`,
		`pgschemas.hcl:11,8: static "WWW": name clashes with static "www" (names are compared ignoring case)`,
		`pgschemas.hcl:12,14: static "WWW": domains[0]: domain "www.example.test" is already claimed by static "www" (domains[0])`,
		`pgschemas.hcl:15,21: dynamic: clone_reference: invalid schema name "pg_sample": names starting with pg_ are reserved by PostgreSQL`,
	)
	for _, sentinel := range []error{ErrInvalidConfig, ErrSearchPathOverlap, ErrNameClash, ErrDuplicateDomain, ErrInvalidName, driver.ErrInvalidSchemaName} {
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(err, %v) = false", sentinel)
		}
	}
	if errors.Is(err, ErrUnknownApp) {
		t.Error("errors.Is(err, ErrUnknownApp) = true, want false")
	}
	var diag *hcl.Diagnostic
	if !errors.As(err, &diag) || diag.Summary != "Unsupported argument" {
		t.Errorf("errors.As(err, *hcl.Diagnostic) = %v", diag)
	}
}

func TestConfigValidateGoBuilt(t *testing.T) {
	c := &Config{
		AppsDir:          "../apps",
		ExtraSearchPaths: []string{"ext", "EXT"},
		Public:           Public{Apps: []string{"shared"}},
		Static: []Static{
			{Name: "www", Apps: []string{"auth", "main"}, Domains: []string{"example.test"}},
			{Name: "Www", Apps: []string{"auth", "missing"}, FallbackDomains: []string{"Example.test", "x.test:80"}},
		},
		Dynamic: &Dynamic{Apps: []string{"tenant", "tenant"}, CloneReference: "public"},
	}
	known := map[string]bool{"shared": true, "auth": true, "main": true, "tenant": true}
	err := c.Validate(func(app string) bool { return known[app] })
	want := []string{
		`apps_dir: "../apps" must stay inside the config's folder`,
		`static "Www": name clashes with static "www" (names are compared ignoring case)`,
		`static "Www": apps[1]: app "missing" does not exist`,
		`static "Www": fallback_domains[0]: domain "Example.test" is already claimed by static "www" (domains[0]) as "example.test" (domains are compared in their stored form: lower case, punycode, without a trailing dot)`,
		`static "Www": fallback_domains[1]: domain "x.test:80": has a port or is an IPv6 address: write the host name only`,
		`dynamic: clone_reference: "public" clashes with public`,
		`dynamic: apps[1]: app "tenant" is listed twice`,
		`extra_search_paths[1]: "EXT" overlaps extra_search_paths[0] "ext" (names are compared ignoring case)`,
	}
	checkProblems(t, err, nil, want...)
	for _, sentinel := range []error{ErrInvalidConfig, ErrNameClash, ErrUnknownApp, ErrDuplicateDomain, ErrInvalidName, ErrSearchPathOverlap} {
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(err, %v) = false", sentinel)
		}
	}
	for _, p := range err.(*ConfigError).Problems {
		if p.File != "" || p.Line != 0 || p.Column != 0 {
			t.Errorf("problem %q has a position: %q:%d,%d", p.Message, p.File, p.Line, p.Column)
		}
	}

	// Without appExists, the apps are not looked up.
	c = &Config{Static: []Static{{Name: "www", Apps: []string{"anything"}}}}
	if err := c.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
	var zero Config
	if err := zero.Validate(func(string) bool { return false }); err != nil {
		t.Errorf("zero Config: Validate = %v", err)
	}
}

// TestConfigValidateAfterChange: a loaded Config keeps the positions of the values it still holds, and
// drops those of values changed in Go.
func TestConfigValidateAfterChange(t *testing.T) {
	src := "static \"www\" {\n  apps = [\"auth\", \"main\"]\n}\n"
	c, err := ParseConfig([]byte(src), "pgschemas.hcl")
	if err != nil {
		t.Fatal(err)
	}
	c.Static[0].Apps[1] = "auth"
	c.Static = append(c.Static, Static{Name: "WWW"})
	err = c.Validate(nil)
	checkProblems(t, err, nil,
		`pgschemas.hcl: static "www": apps[1]: app "auth" is listed twice`,
		`pgschemas.hcl: static "WWW": name clashes with static "www" (names are compared ignoring case)`,
	)

	c.Static = c.Static[:1]
	c.Static[0].Apps = []string{"main", "main"}
	checkProblems(t, c.Validate(nil), ErrInvalidConfig, `pgschemas.hcl:2,19: static "www": apps[1]: app "main" is listed twice`)
}

func TestConfigProblemError(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.hcl", Line: 3, Column: 5, Message: "m"}, "a.hcl:3,5: m"},
		{Problem{File: "a.hcl", Message: "m"}, "a.hcl: m"},
		{Problem{Line: 3, Column: 5, Message: "m"}, "3,5: m"},
		{Problem{Message: "m"}, "m"},
	} {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestConfigAppsRootAndReference(t *testing.T) {
	for _, tc := range []struct {
		c        Config
		root     string
		ref      string
		validate bool
	}{
		{Config{}, "apps", "", true},
		{Config{AppsDir: "modules/./db/", File: "svc/pgschemas.hcl"}, "svc/modules/db", "", true},
		{Config{AppsDir: ".", File: "pgschemas.hcl", Dynamic: &Dynamic{}}, ".", "", true},
		{Config{AppsDir: "a/../b", Dynamic: &Dynamic{CloneReference: "sample"}}, "b", "sample", true},
	} {
		if got := tc.c.AppsRoot(); got != tc.root {
			t.Errorf("%+v: AppsRoot() = %q, want %q", tc.c, got, tc.root)
		}
		if got := tc.c.Reference(); got != tc.ref {
			t.Errorf("%+v: Reference() = %q, want %q", tc.c, got, tc.ref)
		}
		if err := tc.c.Validate(nil); err != nil {
			t.Errorf("%+v: Validate(nil) = %v", tc.c, err)
		}
	}
}

// sampleConfig is testdata/pgschemas.hcl, without its positions.
var sampleConfig = &Config{
	AppsDir: "apps",
	Public:  Public{Apps: []string{"shared"}},
	Static: []Static{
		{Name: "www", Apps: []string{"auth", "main"}, Domains: []string{"localhost", "www.example.test"}},
		{Name: "blog", Apps: []string{"auth", "blog"}, Domains: []string{"blog.example.test", "help.example.test"}},
	},
	Dynamic: &Dynamic{Apps: []string{"auth", "tenant"}, CloneReference: "sample"},
	File:    "pgschemas.hcl",
}

// withoutPositions returns a copy of c without the positions it remembers.
func withoutPositions(c *Config) *Config {
	cc := *c
	cc.pos, cc.shownAs = nil, ""
	return &cc
}

func TestLoadConfigFileSample(t *testing.T) {
	c, err := LoadConfigFile("../testdata/pgschemas.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if got := withoutPositions(c); !reflect.DeepEqual(got, sampleConfig) {
		t.Errorf("LoadConfigFile = %+v, want %+v", got, sampleConfig)
	}
	if c.AppsRoot() != "apps" || c.Reference() != "sample" {
		t.Errorf("AppsRoot() = %q, Reference() = %q", c.AppsRoot(), c.Reference())
	}
	// The same through an fs.FS rooted above the file.
	c, err = LoadConfig(os.DirFS(".."), "testdata/pgschemas.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "testdata/pgschemas.hcl" || c.AppsRoot() != "testdata/apps" {
		t.Errorf("File = %q, AppsRoot() = %q", c.File, c.AppsRoot())
	}
}

func TestLoadConfigTestdata(t *testing.T) {
	c, err := LoadConfig(os.DirFS("testdata/config"), "ok/pgschemas.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		AppsDir:          "db/apps",
		ExtraSearchPaths: []string{"extensions"},
		Public:           Public{Apps: []string{"shared"}},
		Static: []Static{
			{Name: "www", Apps: []string{"site"}, Domains: []string{"mydomain.test"}, FallbackDomains: []string{}},
			{Name: "blog", Apps: []string{"site", "blog"}, Domains: []string{"blog.mydomain.test", "help.mydomain.test"}},
		},
		File: "ok/pgschemas.hcl",
	}
	if got := withoutPositions(c); !reflect.DeepEqual(got, want) {
		t.Errorf("LoadConfig = %+v, want %+v", got, want)
	}
	if got := c.AppsRoot(); got != "ok/db/apps" {
		t.Errorf("AppsRoot() = %q", got)
	}

	// bad/pgschemas.hcl breaks one rule a line; want.txt lists the problems, named by the path given.
	_, err = LoadConfigFile("testdata/config/bad/pgschemas.hcl")
	wantText, rerr := os.ReadFile("testdata/config/bad/want.txt")
	if rerr != nil {
		t.Fatal(rerr)
	}
	checkProblems(t, err, nil, strings.Split(strings.TrimSuffix(string(wantText), "\n"), "\n")...)

	// A problem without a position is named by the path given too.
	_, err = LoadConfigFile("testdata/config/noapps/pgschemas.hcl")
	checkProblems(t, err, ErrUnknownApp, `testdata/config/noapps/pgschemas.hcl: apps_dir: the apps folder apps does not exist`)
}
