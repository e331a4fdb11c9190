package schemaset

import (
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// ParseConfig parses one pgschemas.hcl source and validates it as Validate(nil) does: everything but
// that the apps exist. filename is used in messages and as the Config's File. The error is a
// *ConfigError that lists every problem with its position.
func ParseConfig(src []byte, filename string) (*Config, error) {
	return loadConfig(nil, filename, src, filename)
}

// LoadConfig reads the config at path (a slash-separated path) in fsys, parses it and validates it,
// including that every app exists as a folder fsys/<folder of path>/<apps_dir>/<app>. A service can
// embed its config and apps with embed.FS. A config that cannot be read gives the fs error (test
// with errors.Is(err, fs.ErrNotExist)); an invalid one a *ConfigError that lists every problem.
func LoadConfig(fsys fs.FS, path string) (*Config, error) {
	src, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("schemaset: %w", err)
	}
	return loadConfig(fsys, path, src, path)
}

// LoadConfigFile is LoadConfig on the OS file system: the fs.FS is os.DirFS of the file's folder,
// so the Config's File is the base name and AppsRoot is relative to that folder. Messages name the
// file by the path given.
func LoadConfigFile(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schemaset: %w", err)
	}
	return loadConfig(os.DirFS(filepath.Dir(path)), filepath.Base(path), src, path)
}

// loadConfig parses src, read from name in fsys, and validates it against the apps of fsys; a nil
// fsys skips the apps. display names the file in messages.
func loadConfig(fsys fs.FS, name string, src []byte, display string) (*Config, error) {
	c, probs := parseConfig(src, display)
	if c != nil {
		c.File = name
		if display != name {
			c.shownAs = display
		}
		probs = append(probs, c.check(nil, fsys)...)
	}
	if err := configError(probs); err != nil {
		return nil, err
	}
	return c, nil
}

// The schema of pgschemas.hcl: its top level and the body of each block.
var (
	topSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "apps_dir"}, {Name: "extra_search_paths"}, {Name: "strict"}, {Name: "strict_login_role"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "public"},
			{Type: "static", LabelNames: []string{"name"}},
			{Type: "dynamic"},
		},
	}
	publicSchema  = attrSchema("apps")
	staticSchema  = attrSchema("apps", "domains", "fallback_domains")
	dynamicSchema = attrSchema("apps", "clone_reference", "pool")
)

// attrSchema is the schema of a body that holds the optional attributes names and no blocks.
func attrSchema(names ...string) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range names {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}

// parseConfig decodes src into a Config that remembers the position of each value. It returns the
// problems of syntax and structure; the Config is nil when the syntax is invalid, and otherwise
// holds whatever could be decoded, so that its remaining problems can be found too.
func parseConfig(src []byte, filename string) (*Config, []Problem) {
	d := &decoder{c: &Config{File: filename, pos: map[string]srcPos{}}}
	file, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		d.diags(diags)
		return nil, d.probs
	}
	content, diags := file.Body.Content(topSchema)
	d.diags(diags)
	top := field{}
	d.c.AppsDir = d.str(content.Attributes["apps_dir"], top.child("apps_dir"))
	d.c.ExtraSearchPaths = d.list(content.Attributes["extra_search_paths"], top.child("extra_search_paths"))
	d.c.Strict = d.boolean(content.Attributes["strict"], top.child("strict"))
	d.c.StrictLoginRole = d.str(content.Attributes["strict_login_role"], top.child("strict_login_role"))
	first := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "static":
			f := staticField(len(d.c.Static), b.Labels[0])
			d.at(f, b.LabelRanges[0], b.Labels[0])
			attrs := d.body(b, staticSchema)
			d.c.Static = append(d.c.Static, Static{
				Name:            b.Labels[0],
				Apps:            d.list(attrs["apps"], f.child("apps")),
				Domains:         d.list(attrs["domains"], f.child("domains")),
				FallbackDomains: d.list(attrs["fallback_domains"], f.child("fallback_domains")),
			})
		case "public", "dynamic":
			if prev := first[b.Type]; prev != nil {
				d.problem(b.DefRange, ErrInvalidConfig, "%s: a second %s block; the first is at line %d, and only one is allowed",
					b.Type, b.Type, prev.DefRange.Start.Line)
				continue
			}
			first[b.Type] = b
			if b.Type == "public" {
				attrs := d.body(b, publicSchema)
				d.c.Public.Apps = d.list(attrs["apps"], publicField.child("apps"))
				continue
			}
			attrs := d.body(b, dynamicSchema)
			d.c.Dynamic = &Dynamic{
				Apps:           d.list(attrs["apps"], dynamicField.child("apps")),
				CloneReference: d.str(attrs["clone_reference"], dynamicField.child("clone_reference")),
				Pool:           d.int(attrs["pool"], dynamicField.child("pool")),
			}
		}
	}
	return d.c, d.probs
}

// decoder turns HCL into a Config, recording positions and problems.
type decoder struct {
	c     *Config
	probs []Problem
}

// problem reports a problem at rng.
func (d *decoder) problem(rng hcl.Range, err error, format string, args ...any) {
	d.probs = append(d.probs, Problem{
		File: rng.Filename, Line: rng.Start.Line, Column: rng.Start.Column,
		Message: fmt.Sprintf(format, args...), Err: err,
	})
}

// diags reports the errors among diags.
func (d *decoder) diags(diags hcl.Diagnostics) {
	for _, diag := range diags {
		if diag.Severity != hcl.DiagError {
			continue
		}
		rng := hcl.Range{Filename: d.c.File}
		if diag.Subject != nil {
			rng = *diag.Subject
		}
		d.problem(rng, fmt.Errorf("%w: %w", ErrInvalidConfig, diag), "%s; %s", diag.Summary, diag.Detail)
	}
}

// at records that the value val of f stood at rng.
func (d *decoder) at(f field, rng hcl.Range, val string) {
	d.c.pos[f.key] = srcPos{rng: rng, val: val}
}

// body returns the attributes of block b, which follows schema.
func (d *decoder) body(b *hcl.Block, schema *hcl.BodySchema) hcl.Attributes {
	content, diags := b.Body.Content(schema)
	d.diags(diags)
	return content.Attributes
}

// str decodes the string attribute attr of f; nil gives "".
func (d *decoder) str(attr *hcl.Attribute, f field) string {
	if attr == nil {
		return ""
	}
	s, _ := d.strExpr(attr.Expr, f)
	return s
}

// boolean decodes the bool attribute attr of f; nil gives false.
func (d *decoder) boolean(attr *hcl.Attribute, f field) bool {
	if attr == nil {
		return false
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		d.diags(diags)
		return false
	}
	if v.IsNull() || v.Type() != cty.Bool {
		d.problem(attr.Expr.Range(), ErrInvalidConfig, "%s: must be true or false, not %s", f.label, typeName(v))
		return false
	}
	d.at(f, attr.Expr.Range(), v.GoString())
	return v.True()
}

// strExpr decodes the string expression expr of f, and reports whether it is one.
func (d *decoder) strExpr(expr hcl.Expression, f field) (string, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		d.diags(diags)
		return "", false
	}
	if v.IsNull() || v.Type() != cty.String {
		d.problem(expr.Range(), ErrInvalidConfig, "%s: must be a string, not %s", f.label, typeName(v))
		return "", false
	}
	s := v.AsString()
	d.at(f, expr.Range(), s)
	return s, true
}

// int decodes the whole-number attribute attr of f; nil gives 0. A value that is not a whole
// number is reported and gives 0; its sign is checked by Validate.
func (d *decoder) int(attr *hcl.Attribute, f field) int {
	if attr == nil {
		return 0
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		d.diags(diags)
		return 0
	}
	if v.IsNull() || v.Type() != cty.Number {
		d.problem(attr.Expr.Range(), ErrInvalidConfig, "%s: must be a whole number, not %s", f.label, typeName(v))
		return 0
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || n != int64(int(n)) {
		d.problem(attr.Expr.Range(), ErrInvalidConfig, "%s: must be a whole number, not %s", f.label, bf.Text('g', -1))
		return 0
	}
	d.at(f, attr.Expr.Range(), strconv.Itoa(int(n)))
	return int(n)
}

// list decodes the list of strings attr of f; nil gives nil. An element that is not a string is
// reported and left out; the positions of the others follow their index in the list.
func (d *decoder) list(attr *hcl.Attribute, f field) []string {
	if attr == nil {
		return nil
	}
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() {
			d.diags(diags)
		} else {
			d.problem(attr.Expr.Range(), ErrInvalidConfig, "%s: must be a list of strings, not %s", f.label, typeName(v))
		}
		return nil
	}
	list := make([]string, 0, len(exprs))
	for _, expr := range exprs {
		if s, ok := d.strExpr(expr, f.index(len(list))); ok {
			list = append(list, s)
		}
	}
	return list
}

// typeName names the type of v in messages.
func typeName(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	return v.Type().FriendlyName()
}
