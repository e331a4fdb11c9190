package apps

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// contextFile names the generated HCL that describes what the apps' HCL may reference.
const contextFile = "<pgschemas: tables of the schema so far and of public>"

// hclDecl is where an HCL block is declared.
type hclDecl struct {
	file string
	line int
}

// hclDecls maps "table NAME" and "enum NAME" to where an app declares them.
type hclDecls map[string]hclDecl

// origin returns the app and file that declared o (a table, or an object of a table, or an enum).
func (d hclDecls) origin(app string, o object) origin {
	if x, ok := d["table "+o.table]; ok && o.table != "" {
		return origin{app: app, file: x.file}
	}
	if x, ok := d["enum "+o.name]; ok && o.kind == "enum" {
		return origin{app: app, file: x.file}
	}
	return origin{app: app}
}

// applyHCL evaluates an app's HCL files together with Atlas and creates their tables and enums in
// the scratch schema. The app's blocks name no schema: each top-level block gets
// "schema = schema.<scratch>" in its syntax tree (not in its text, so that lines stay right).
// References to tables and enums of earlier apps resolve against a generated context: stubs of
// the scratch schema's tables and enums as they are so far (unqualified, table.users), and of
// public's tables (qualified, table.public.plans).
func (m *materializer) applyHCL(ctx context.Context, app string, files []File) (hclDecls, error) {
	drv, err := m.driver()
	if err != nil {
		return nil, err
	}
	parser := hclparse.NewParser()
	decls, err := parseApp(app, files, parser, m.schema)
	if err != nil {
		return nil, err
	}
	realm, err := drv.InspectRealm(ctx, &schema.InspectRealmOption{Schemas: []string{m.schema, m.public}})
	if err != nil {
		return nil, fmt.Errorf("apps: inspect schema %q and %s: %w", m.schema, m.public, err)
	}
	if err := decls.checkTaken(app, realm, m.schema); err != nil {
		return nil, err
	}
	// The schema that stands for public is public to the apps' HCL (table.public.NAME), and its
	// own name again in the SQL that creates the references.
	stand, _ := realm.Schema(m.public)
	if stand != nil {
		stand.Name = "public"
		if m.public == "public" {
			shadowed(stand, realm, m.schema, decls)
		}
	}
	if _, diags := parser.ParseHCL(contextHCL(realm, m.schema), contextFile); diags.HasErrors() {
		return nil, fmt.Errorf("apps: generated HCL context: %w", diags)
	}
	var r schema.Realm
	if err := postgres.EvalHCL.Eval(parser, &r, nil); err != nil {
		return nil, evalError(app, files, err)
	}
	if pub, ok := r.Schema("public"); ok {
		pub.Name = m.public
	}
	return decls, m.createHCL(ctx, app, &r, decls)
}

// shadowed leaves out of public, where the scratch schema stands in for public itself (public's
// own apps), the tables that the scratch schema holds or the app declares: they are the live
// copies of what public's apps declare, and an app's table.NAME, which means the table of its own
// schema, would otherwise find two tables of that name (Atlas refuses such a reference as
// ambiguous). public's other tables, the engine's, stay referenceable as table.public.NAME.
func shadowed(pub *schema.Schema, realm *schema.Realm, scratch string, decls hclDecls) {
	own, _ := realm.Schema(scratch)
	pub.Tables = slices.DeleteFunc(pub.Tables, func(t *schema.Table) bool {
		if hasKey(decls, "table "+t.Name) {
			return true
		}
		if own != nil {
			_, ok := own.Table(t.Name)
			return ok
		}
		return false
	})
}

// parseApp parses an app's HCL files into parser, records where each table and enum is declared,
// and places every top-level block in the scratch schema.
func parseApp(app string, files []File, parser *hclparse.Parser, scratch string) (hclDecls, error) {
	decls := hclDecls{}
	var errs []error
	for _, f := range files {
		body, err := parseHCL(app, f, parser)
		if err != nil {
			return nil, err
		}
		for _, b := range body.Blocks {
			key, line := b.Type+" "+b.Labels[0], b.DefRange().Start.Line
			if prev, dup := decls[key]; dup {
				errs = append(errs, invalid(app, f.Path, line, "%s is declared twice (also at %s:%d)", key, prev.file, prev.line))
			}
			decls[key] = hclDecl{file: f.Path, line: line}
			setSchema(b, scratch)
		}
	}
	return decls, errors.Join(errs...)
}

// checkTaken rejects a declaration whose name an earlier app already took in the schema.
func (d hclDecls) checkTaken(app string, realm *schema.Realm, scratch string) error {
	s, ok := realm.Schema(scratch)
	if !ok {
		return nil
	}
	var errs []error
	for _, key := range sortedKeys(d) {
		x := d[key]
		var taken bool
		switch kind, name := splitKey(key); kind {
		case "table":
			_, taken = s.Table(name)
		case "enum":
			_, taken = s.Object(func(o schema.Object) bool { e, ok := o.(*schema.EnumType); return ok && e.T == name })
		}
		if taken {
			errs = append(errs, invalid(app, x.file, x.line, "%s already exists in this set: an earlier app declares it", key))
		}
	}
	return errors.Join(errs...)
}

// createHCL plans the creation of the app's declared tables and enums with Atlas' postgres driver
// and runs the plan's statements. A failed statement is blamed on the block that declared it.
func (m *materializer) createHCL(ctx context.Context, app string, r *schema.Realm, decls hclDecls) error {
	s, ok := r.Schema(m.schema)
	if !ok {
		return nil
	}
	var enums, tables []schema.Change
	for _, o := range s.Objects {
		if e, ok := o.(*schema.EnumType); ok && hasKey(decls, "enum "+e.T) {
			enums = append(enums, &schema.AddObject{O: e})
		}
	}
	for _, t := range s.Tables {
		if hasKey(decls, "table "+t.Name) {
			tables = append(tables, &schema.AddTable{T: t})
		}
	}
	plan, err := m.drv.PlanChanges(ctx, app, append(enums, tables...))
	if err != nil {
		return &Error{App: app, Err: fmt.Errorf("%w: Atlas cannot plan the app's HCL: %v", ErrInvalidApp, err)}
	}
	for _, c := range plan.Changes {
		d := decls[changeKey(c.Source)]
		// Atlas writes an HCL block's SQL expressions (a default, a check, an index's where) into
		// its DDL as they are: the DDL is classified as SQL files are, and must be one statement.
		stmts, err := statements(app, d.file, c.Cmd, false, m.schema, m.public)
		if err == nil && len(stmts) != 1 {
			err = invalid(app, d.file, d.line, "the SQL of %s is %d statements, not one: an expression in it ends the statement", changeKey(c.Source), len(stmts))
		}
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Line = d.line
			}
			return err
		}
		if _, err := m.tx.ExecContext(ctx, c.Cmd, c.Args...); err != nil {
			return &Error{App: app, File: d.file, Line: d.line, Err: WithDetail(err)}
		}
		if err := m.inTx(ctx); err != nil {
			return &Error{App: app, File: d.file, Line: d.line, Err: err}
		}
	}
	return nil
}

// changeKey returns the declaration key of the table or enum that an Atlas change is about.
func changeKey(c schema.Change) string {
	switch c := c.(type) {
	case *schema.AddTable:
		return "table " + c.T.Name
	case *schema.ModifyTable:
		return "table " + c.T.Name
	case *schema.AddObject:
		if e, ok := c.O.(*schema.EnumType); ok {
			return "enum " + e.T
		}
	}
	return ""
}

// setSchema adds "schema = schema.<name>" to a top-level block's syntax tree, at the block's
// header, without touching the source text.
func setSchema(b *hclsyntax.Block, name string) {
	r := b.DefRange()
	b.Body.Attributes["schema"] = &hclsyntax.Attribute{
		Name: "schema",
		Expr: &hclsyntax.ScopeTraversalExpr{
			Traversal: hcl.Traversal{hcl.TraverseRoot{Name: "schema", SrcRange: r}, hcl.TraverseAttr{Name: name, SrcRange: r}},
			SrcRange:  r,
		},
		SrcRange: r, NameRange: r, EqualsRange: r,
	}
}

// contextHCL describes, as stubs the apps' HCL can reference, the tables (with their columns) and
// enums of the scratch schema, and the tables of the other inspected schemas (public) under their
// schema's name as qualifier. Stubs carry no keys or constraints: they exist only to be referenced
// and are never created. Column types are raw sql() types, which Atlas does not need here.
func contextHCL(r *schema.Realm, scratch string) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for _, s := range r.Schemas {
		body.AppendNewBlock("schema", []string{s.Name})
	}
	for _, s := range r.Schemas {
		labels := func(name string) []string { return []string{s.Name, name} }
		if s.Name == scratch {
			labels = func(name string) []string { return []string{name} }
		}
		ref := hcl.Traversal{hcl.TraverseRoot{Name: "schema"}, hcl.TraverseAttr{Name: s.Name}}
		for _, t := range s.Tables {
			tb := body.AppendNewBlock("table", labels(t.Name)).Body()
			tb.SetAttributeTraversal("schema", ref)
			for _, c := range t.Columns {
				raw := "text"
				if c.Type != nil && c.Type.Raw != "" {
					raw = c.Type.Raw
				}
				cb := tb.AppendNewBlock("column", []string{c.Name}).Body()
				cb.SetAttributeRaw("type", hclwrite.TokensForFunctionCall("sql", hclwrite.TokensForValue(cty.StringVal(raw))))
			}
		}
		// Atlas' open-source HCL resolves enums by name alone, so only the scratch schema's enums
		// can be referenced (enum.role); public's would collide with them.
		if s.Name != scratch {
			continue
		}
		for _, o := range s.Objects {
			if e, ok := o.(*schema.EnumType); ok {
				eb := body.AppendNewBlock("enum", labels(e.T)).Body()
				eb.SetAttributeTraversal("schema", ref)
				vals := make([]cty.Value, len(e.Values))
				for i, v := range e.Values {
					vals[i] = cty.StringVal(v)
				}
				eb.SetAttributeValue("values", cty.ListVal(vals))
			}
		}
	}
	return f.Bytes()
}

// evalError locates an Atlas evaluation error: HCL diagnostics carry a file and line; Atlas'
// conversion errors carry neither, and then name the app's only file, if it has one.
func evalError(app string, files []File, err error) *Error {
	var diags hcl.Diagnostics
	if errors.As(err, &diags) && diags.HasErrors() {
		e := diagError(app, "", diags, ErrInvalidApp)
		if hint := publicHint(diags); hint != "" {
			e.Err = fmt.Errorf("%w Hint: %s.", e.Err, hint)
		}
		return e
	}
	e := &Error{App: app, Err: fmt.Errorf("%w: %v", ErrInvalidApp, err)}
	if len(files) == 1 {
		e.File = files[0].Path
	}
	return e
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// splitKey splits "table users" into "table" and "users".
func splitKey(key string) (kind, name string) {
	for i := range key {
		if key[i] == ' ' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

// publicHint explains the qualifier of public's tables when a diagnostic is about a reference
// table.NAME that does not resolve, the likely slip of an app that references public.
func publicHint(diags hcl.Diagnostics) string {
	for _, d := range diags {
		x, ok := d.Expression.(*hclsyntax.ScopeTraversalExpr)
		if !ok || len(x.Traversal) < 2 || x.Traversal.RootName() != "table" {
			continue
		}
		if name, ok := x.Traversal[1].(hcl.TraverseAttr); ok {
			return fmt.Sprintf("a table of public is referenced as table.public.%s, a table of this schema (this app's or an earlier app's) as table.%s", name.Name, name.Name)
		}
	}
	return ""
}
