package readme

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// root is the repository's root, from this package's folder.
const root = "../.."

// block is one ```go block of the README.
type block struct {
	line    int      // where it starts in README.md
	imports []string // the paths of its import declaration, if it has one
	code    []string // the rest, normalized
}

// example is the body of one Example function, normalized, with its file's imports.
type example struct {
	name    string // file:function
	imports []string
	body    []string
}

// normalize trims each line, collapses runs of spaces and tabs, and drops empty lines.
func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// goBlocks returns the ```go blocks of a Markdown text, each split into its import declaration
// (when it opens with one) and its code.
func goBlocks(t *testing.T, md string) []block {
	t.Helper()
	var blocks []block
	var cur *block
	var raw []string
	sc := bufio.NewScanner(strings.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur, raw = &block{line: n}, nil
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.imports, cur.code = splitImports(t, cur.line, normalize(raw))
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			raw = append(raw, line)
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a ```go block is not closed", cur.line)
	}
	return blocks
}

// splitImports separates a leading import declaration from a block's normalized lines and returns
// its paths.
func splitImports(t *testing.T, at int, lines []string) (imports, code []string) {
	t.Helper()
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "import") {
		return nil, lines
	}
	end := 0 // the index of the declaration's last line
	if lines[0] == "import (" {
		end = slices.Index(lines, ")")
		if end < 0 {
			t.Fatalf("README.md:%d: an import declaration is not closed", at)
		}
	}
	for _, l := range lines[:end+1] {
		l = strings.TrimPrefix(l, "import")
		l, _, _ = strings.Cut(l, "//")
		l = strings.Trim(strings.TrimSpace(l), "()")
		if f := strings.Fields(l); len(f) > 0 {
			path, err := strconv.Unquote(f[len(f)-1])
			if err != nil {
				t.Fatalf("README.md:%d: import %q: %v", at, l, err)
			}
			imports = append(imports, path)
		}
	}
	return imports, lines[end+1:]
}

// examples parses every _test.go file under dir (testdata included, for the ecosystem module) and
// returns the bodies of its Example functions.
func examples(t *testing.T, dir string) []example {
	t.Helper()
	var all []example
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		var imports []string
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			imports = append(imports, p)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Example") || fn.Body == nil {
				continue
			}
			body := src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset]
			rel, _ := filepath.Rel(dir, path)
			all = append(all, example{name: rel + ":" + fn.Name.Name, imports: imports,
				body: normalize(strings.Split(string(body), "\n"))})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// contains reports whether run stands in lines, contiguous and in order.
func contains(lines, run []string) bool {
	for i := 0; i+len(run) <= len(lines); i++ {
		if slices.Equal(lines[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

// match returns the Example that holds b, and "" when none does.
func match(b block, exs []example) string {
	for _, ex := range exs {
		if contains(ex.body, b.code) && !slices.ContainsFunc(b.imports, func(p string) bool { return !slices.Contains(ex.imports, p) }) {
			return ex.name
		}
	}
	return ""
}

// TestREADMEGoBlocksAreExamples: every ```go block of README.md stands in an Example function, so
// that it compiles and runs in the tests.
func TestREADMEGoBlocksAreExamples(t *testing.T) {
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(t, string(md))
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block: the extraction is broken, or the README lost its snippets")
	}
	exs := examples(t, root)
	for _, b := range blocks {
		if len(b.code) == 0 {
			t.Errorf("README.md:%d: a ```go block without code", b.line)
			continue
		}
		if name := match(b, exs); name == "" {
			t.Errorf("README.md:%d: this ```go block stands in no Example function (or the Example's file lacks its imports %q); "+
				"keep it, line for line, in an Example of the right package:\n%s", b.line, b.imports, strings.Join(b.code, "\n"))
		} else {
			t.Logf("README.md:%d: in %s", b.line, name)
		}
	}
}

// TestMatch: the check finds a block in an Example whatever its indentation, and refuses a block
// whose lines were edited, reordered, or whose imports the Example's file lacks.
func TestMatch(t *testing.T) {
	exs := []example{{name: "x_test.go:Example", imports: []string{"fmt", "context"},
		body: normalize([]string{"\tctx := context.Background()", "", "\tfmt.Println(ctx)  // the context", "\t// Output: context.Background"})}}
	md := func(code string) block {
		return goBlocks(t, "intro\n```go\n"+code+"\n```\n")[0]
	}
	for _, tc := range []struct {
		name, code string
		want       bool
	}{
		{"same lines, other indentation", "ctx := context.Background()\n    fmt.Println(ctx) // the context", true},
		{"with the file's imports", "import (\n\t\"context\"\n\t\"fmt\" // printing\n)\n\nctx := context.Background()", true},
		{"one import", "import \"fmt\"\n\nfmt.Println(ctx) // the context", true},
		{"an edited line", "ctx := context.TODO()\nfmt.Println(ctx) // the context", false},
		{"reordered lines", "fmt.Println(ctx) // the context\nctx := context.Background()", false},
		{"an import the file lacks", "import \"log\"\n\nctx := context.Background()", false},
		{"a line more", "ctx := context.Background()\nfmt.Println(ctx) // the context\nreturn", false},
	} {
		if got := match(md(tc.code), exs) != ""; got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}
