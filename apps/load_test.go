package apps_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgschemas/pgschemas/apps"
)

func TestLoadSamples(t *testing.T) {
	reg, err := apps.Load(os.DirFS("../testdata"), "apps")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reg.Names(), []string{"auth", "blog", "main", "shared", "tenant"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	auth, ok := reg.App("auth")
	if !ok || len(auth.Files) != 1 || auth.Files[0].Path != "auth/users.hcl" || auth.Files[0].Kind != apps.KindHCL {
		t.Fatalf("auth = %+v", auth)
	}
	if !strings.Contains(string(auth.Files[0].Data), `table "users"`) {
		t.Errorf("auth/users.hcl data = %q", auth.Files[0].Data)
	}
	tenant, _ := reg.App("tenant")
	if len(tenant.Files) != 1 || tenant.Files[0].Path != "tenant/notes.sql" || tenant.Files[0].Kind != apps.KindSQL {
		t.Errorf("tenant files = %+v", tenant.Files)
	}
	if _, ok := reg.App("nope"); ok {
		t.Error(`App("nope") found an app`)
	}
}

func TestLoadStepsAndDocs(t *testing.T) {
	fsys := fstest.MapFS{
		"apps/README.md":                       {Data: []byte("# apps")},
		"apps/blog/README":                     {Data: []byte("blog")},
		"apps/blog/posts.sql":                  {Data: []byte("CREATE TABLE posts (id int PRIMARY KEY);")},
		"apps/blog/a.hcl":                      {Data: []byte(`table "tags" {` + "\n" + `column "id" { type = int }` + "\n}\n")},
		"apps/blog/steps/0002_backfill.sql":    {Data: []byte("UPDATE posts SET id = id;")},
		"apps/blog/steps/0001_rename.sql":      {Data: []byte("ALTER TABLE posts RENAME COLUMN id TO id;")},
		"apps/blog/steps/NOTES.md":             {Data: []byte("notes")},
		"apps/blog/steps/README.txt":           {Data: []byte("readme")},
		"apps/users/users.sql":                 {Data: []byte("CREATE TABLE users (id int);")},
		"apps/users/steps/0001_seed_admin.sql": {Data: []byte("SELECT 1;")},
	}
	reg, err := apps.Load(fsys, "apps")
	if err != nil {
		t.Fatal(err)
	}
	blog, _ := reg.App("blog")
	wantFiles := []string{"blog/a.hcl", "blog/posts.sql"}
	if got := paths(blog.Files); !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("files = %v, want %v", got, wantFiles)
	}
	wantSteps := []apps.Step{
		{App: "blog", Name: "0001_rename", Path: "blog/steps/0001_rename.sql", SQL: "ALTER TABLE posts RENAME COLUMN id TO id;"},
		{App: "blog", Name: "0002_backfill", Path: "blog/steps/0002_backfill.sql", SQL: "UPDATE posts SET id = id;"},
	}
	if !reflect.DeepEqual(blog.Steps, wantSteps) {
		t.Errorf("steps = %+v, want %+v", blog.Steps, wantSteps)
	}
}

func paths(files []apps.File) []string {
	var p []string
	for _, f := range files {
		p = append(p, f.Path)
	}
	return p
}

func TestLoadErrors(t *testing.T) {
	const table = `table "t" {` + "\n" + `  column "id" {` + "\n" + `    type = int` + "\n  }\n}\n"
	for _, tc := range []struct {
		name       string
		files      map[string]string
		file       string // the *Error's File
		line       int
		msgPart    string
		notInvalid bool // the error is not ErrInvalidApp
	}{
		{name: "bad extension", files: map[string]string{"a/notes.txt": "x"}, file: "a/notes.txt", msgPart: "only *.hcl, *.sql"},
		{name: "nested folder", files: map[string]string{"a/sub/x.sql": "x"}, file: "a/sub", msgPart: "only *.hcl, *.sql"},
		{name: "file in the root", files: map[string]string{"x.sql": "x", "a/t.sql": "SELECT 1;"}, file: "x.sql", msgPart: "only app folders"},
		{name: "bad app name", files: map[string]string{"Auth/t.sql": "SELECT 1;"}, msgPart: `app name "Auth" does not match`},
		{name: "empty app", files: map[string]string{"a/README.md": "x"}, msgPart: "declares nothing"},
		{name: "bad step name", files: map[string]string{"a/t.sql": "SELECT 1;", "a/steps/1_fix.sql": "SELECT 1;"}, file: "a/steps/1_fix.sql", msgPart: `step name "1_fix" does not match`},
		{name: "upper-case step name", files: map[string]string{"a/t.sql": "SELECT 1;", "a/steps/0001_Fix.sql": "SELECT 1;"}, file: "a/steps/0001_Fix.sql", msgPart: "does not match"},
		{name: "step number taken", files: map[string]string{"a/t.sql": "SELECT 1;", "a/steps/0001_a.sql": "SELECT 1;", "a/steps/0001_b.sql": "SELECT 1;"}, file: "a/steps/0001_b.sql", msgPart: `step number 0001 is taken by step "0001_a"`},
		{name: "not sql in steps", files: map[string]string{"a/t.sql": "SELECT 1;", "a/steps/0001_a.hcl": "x"}, file: "a/steps/0001_a.hcl", msgPart: "holds only NNNN_name.sql"},
		{name: "hcl syntax", files: map[string]string{"a/t.hcl": "table \"t\" {\n  column \"id\" {\n    type = int\n  \n}\n"}, file: "a/t.hcl", line: 1, msgPart: "Unclosed configuration block"},
		{name: "hcl syntax mid-file", files: map[string]string{"a/t.hcl": table + "table \"u\" {\n  column \"id\" {\n    type = = int\n  }\n}\n"}, file: "a/t.hcl", line: 8, msgPart: "expression"},
		{name: "hcl unknown attribute", files: map[string]string{"a/t.hcl": "table \"t\" {\n  column \"id\" {\n    type = int\n    nul = true\n  }\n}\n"}, file: "a/t.hcl", line: 4, msgPart: `unknown attribute "nul" in column "id"`},
		{name: "hcl unknown block", files: map[string]string{"a/t.hcl": table + "view \"v\" {\n  as = \"SELECT 1\"\n}\n"}, file: "a/t.hcl", line: 6, msgPart: `unknown block "view"`},
		{name: "hcl schema attribute", files: map[string]string{"a/t.hcl": "table \"t\" {\n  schema = schema.public\n  column \"id\" {\n    type = int\n  }\n}\n"}, file: "a/t.hcl", line: 2, msgPart: "an app does not name its schema"},
		{name: "hcl schema block", files: map[string]string{"a/t.hcl": "schema \"public\" {\n}\n" + table}, file: "a/t.hcl", line: 1, msgPart: "an app does not name its schema"},
		{name: "hcl qualified table", files: map[string]string{"a/t.hcl": "table \"public\" \"t\" {\n}\n"}, file: "a/t.hcl", line: 1, msgPart: `block "table" takes one label`},
		{name: "sql unclosed quote", files: map[string]string{"a/t.sql": "CREATE TABLE t (id int);\nCREATE TABLE u (a text DEFAULT 'x);\n"}, file: "a/t.sql", line: 2, msgPart: "cannot split the SQL into statements: 2:"},
		{name: "sql commit", files: map[string]string{"a/t.sql": "CREATE TABLE t (id int);\n\ncommit;\n"}, file: "a/t.sql", line: 3, msgPart: "COMMIT: the engine owns the transaction"},
		{name: "step rollback", files: map[string]string{"a/t.sql": "SELECT 1;", "a/steps/0001_x.sql": "UPDATE t SET id = 1;\nROLLBACK;"}, file: "a/steps/0001_x.sql", line: 2, msgPart: "ROLLBACK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for p, data := range tc.files {
				fsys["apps/"+p] = &fstest.MapFile{Data: []byte(data)}
			}
			reg, err := apps.Load(fsys, "apps")
			if err == nil {
				t.Fatalf("Load succeeded with apps %v", reg.Names())
			}
			if !errors.Is(err, apps.ErrInvalidApp) {
				t.Errorf("error %v is not ErrInvalidApp", err)
			}
			var e *apps.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *apps.Error", err)
			}
			if e.File != tc.file || e.Line != tc.line {
				t.Errorf("error at %s:%d, want %s:%d (%v)", e.File, e.Line, tc.file, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.msgPart) {
				t.Errorf("error %q does not say %q", err, tc.msgPart)
			}
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	if _, err := apps.Load(fstest.MapFS{}, "apps"); err == nil {
		t.Fatal("Load of a missing folder succeeded")
	}
}

func TestNewRegistry(t *testing.T) {
	sqlFile := func(p string) apps.File { return apps.File{Path: p, Kind: apps.KindSQL, Data: []byte("SELECT 1;")} }
	in := &apps.App{Name: "a", Files: []apps.File{sqlFile("a/z.sql"), sqlFile("a/b.sql")},
		Steps: []apps.Step{{App: "a", Name: "0002_b"}, {App: "a", Name: "0001_a"}}}
	reg, err := apps.NewRegistry(in)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := reg.App("a")
	if p := paths(got.Files); !reflect.DeepEqual(p, []string{"a/b.sql", "a/z.sql"}) {
		t.Errorf("files not sorted: %v", p)
	}
	if got.Steps[0].Name != "0001_a" {
		t.Errorf("steps not sorted: %+v", got.Steps)
	}
	if in.Files[0].Path != "a/z.sql" || in.Steps[0].Name != "0002_b" {
		t.Error("NewRegistry modified its argument")
	}
	for _, tc := range []struct {
		name    string
		list    []*apps.App
		msgPart string
	}{
		{"duplicate", []*apps.App{in, in}, `two apps named "a"`},
		{"nil", []*apps.App{nil}, "nil app"},
		{"bad name", []*apps.App{{Name: "a-b", Files: []apps.File{sqlFile("a-b/x.sql")}}}, "does not match"},
		{"kind mismatch", []*apps.App{{Name: "a", Files: []apps.File{{Path: "a/x.sql", Kind: apps.KindHCL}}}}, "kind HCL does not match"},
		{"zero kind", []*apps.App{{Name: "a", Files: []apps.File{{Path: "a/x.sql"}}}}, "kind Kind(0) does not match"},
		{"path of another app", []*apps.App{{Name: "a", Files: []apps.File{sqlFile("b/x.sql")}}}, "has a path a/NAME.hcl"},
		{"duplicate path", []*apps.App{{Name: "a", Files: []apps.File{sqlFile("a/x.sql"), sqlFile("a/x.sql")}}}, "two files with this path"},
		{"step of another app", []*apps.App{{Name: "a", Files: []apps.File{sqlFile("a/x.sql")}, Steps: []apps.Step{{App: "b", Name: "0001_x"}}}}, `belongs to app "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apps.NewRegistry(tc.list...)
			if !errors.Is(err, apps.ErrInvalidApp) || !strings.Contains(fmtErr(err), tc.msgPart) {
				t.Errorf("NewRegistry error = %v, want ErrInvalidApp saying %q", err, tc.msgPart)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestKindString(t *testing.T) {
	for k, want := range map[apps.Kind]string{apps.KindHCL: "HCL", apps.KindSQL: "SQL", 0: "Kind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	load := func() *apps.App {
		reg, err := apps.Load(os.DirFS("../testdata"), "apps")
		if err != nil {
			t.Fatal(err)
		}
		a, _ := reg.App("tenant")
		return a
	}
	base := load().Fingerprint()
	if len(base) != 64 || strings.Trim(base, "0123456789abcdef") != "" {
		t.Fatalf("Fingerprint() = %q, want 64 hex digits", base)
	}
	if again := load().Fingerprint(); again != base {
		t.Fatalf("Fingerprint is not stable: %s, then %s", base, again)
	}
	for name, change := range map[string]func(a *apps.App){
		"name":        func(a *apps.App) { a.Name = "tenant2" },
		"one byte":    func(a *apps.App) { a.Files[0].Data[len(a.Files[0].Data)-2] ^= 1 },
		"path":        func(a *apps.App) { a.Files[0].Path = "tenant/notes2.sql" },
		"kind":        func(a *apps.App) { a.Files[0].Kind = apps.KindHCL },
		"new file":    func(a *apps.App) { a.Files = append(a.Files, apps.File{Path: "tenant/x.sql", Kind: apps.KindSQL}) },
		"new step":    func(a *apps.App) { a.Steps = append(a.Steps, apps.Step{App: "tenant", Name: "0001_x"}) },
		"step sql":    func(a *apps.App) { a.Steps = append(a.Steps, apps.Step{App: "tenant", Name: "0001_x", SQL: " "}) },
		"bytes moved": func(a *apps.App) { a.Name, a.Files[0].Path = "tenantt", "enant/notes.sql" },
	} {
		a := load()
		change(a)
		if a.Fingerprint() == base {
			t.Errorf("Fingerprint did not change with the %s", name)
		}
	}
	withStep := load()
	withStep.Steps = []apps.Step{{App: "tenant", Name: "0001_x"}}
	withSQL := load()
	withSQL.Steps = []apps.Step{{App: "tenant", Name: "0001_x", SQL: "x"}}
	if withStep.Fingerprint() == withSQL.Fingerprint() {
		t.Error("Fingerprint ignores a step's SQL")
	}
}

func TestErrorString(t *testing.T) {
	cause := errors.New("boom")
	for _, tc := range []struct {
		e    apps.Error
		want string
	}{
		{apps.Error{App: "tenant", File: "tenant/notes.sql", Line: 3, Err: cause}, `app "tenant": tenant/notes.sql:3: boom`},
		{apps.Error{App: "tenant", File: "tenant/notes.sql", Err: cause}, `app "tenant": tenant/notes.sql: boom`},
		{apps.Error{App: "tenant", Err: cause}, `app "tenant": boom`},
		{apps.Error{File: "x.txt", Err: cause}, `x.txt: boom`},
		{apps.Error{App: "a"}, `app "a": unknown error`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	if !errors.Is(&apps.Error{Err: cause}, cause) {
		t.Error("*Error does not unwrap to its cause")
	}
}
