package apps

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// blockSpec is what a block of an app's HCL may hold. Atlas keeps attributes and blocks it does
// not know in a catch-all and ignores them, so a misspelt "nul = true" would silently give a
// NOT NULL column; apps get this stricter allowlist instead.
type blockSpec struct {
	labels [2]int // minimum and maximum number of labels
	attrs  []string
	blocks map[string]*blockSpec
}

// hclSpec is the allowlist of an app's HCL: Atlas' PostgreSQL table and enum blocks, without any
// schema, and without the objects that the engine cannot manage (views, functions, triggers,
// sequences, partitions, ...).
var hclSpec = &blockSpec{blocks: map[string]*blockSpec{
	"enum": {labels: [2]int{1, 1}, attrs: []string{"values"}},
	"table": {labels: [2]int{1, 1}, attrs: []string{"comment"}, blocks: map[string]*blockSpec{
		"column": {labels: [2]int{1, 1}, attrs: []string{"type", "null", "default", "comment"}, blocks: map[string]*blockSpec{
			"identity": {attrs: []string{"generated", "start", "increment"}},
		}},
		"primary_key": {attrs: []string{"columns"}},
		"index": {labels: [2]int{1, 1}, attrs: []string{"columns", "unique", "where", "type", "include", "nulls_distinct", "comment"},
			blocks: map[string]*blockSpec{"on": onSpec}},
		"unique":      {labels: [2]int{1, 1}, attrs: []string{"columns"}},
		"foreign_key": {labels: [2]int{1, 1}, attrs: []string{"columns", "ref_columns", "on_update", "on_delete"}},
		"check":       {labels: [2]int{0, 1}, attrs: []string{"expr"}},
	}},
}}

// onSpec is an index part: a column or an expression, with its order and operator class.
var onSpec = &blockSpec{attrs: []string{"column", "expr", "desc", "ops", "nulls_first", "nulls_last"}}

// parseHCL parses an HCL file (syntax only) and checks it against the allowlist. Every error
// wraps ErrInvalidApp and carries the line.
// With a parser, the file is parsed into it, for Atlas to evaluate.
func parseHCL(app string, f File, p *hclparse.Parser) (*hclsyntax.Body, error) {
	var (
		file  *hcl.File
		diags hcl.Diagnostics
	)
	if p != nil {
		file, diags = p.ParseHCL(f.Data, f.Path)
	} else {
		file, diags = hclsyntax.ParseConfig(f.Data, f.Path, hcl.InitialPos)
	}
	if diags.HasErrors() {
		return nil, diagError(app, f.Path, diags, ErrInvalidApp)
	}
	body := file.Body.(*hclsyntax.Body)
	var errs []error
	checkBody(body, hclSpec, "", func(r hcl.Range, format string, args ...any) {
		errs = append(errs, invalid(app, f.Path, r.Start.Line, format, args...))
	})
	return body, errors.Join(errs...)
}

// checkBody reports every attribute and block of body that spec does not allow. where names the
// enclosing block for messages.
func checkBody(body *hclsyntax.Body, spec *blockSpec, where string, report func(hcl.Range, string, ...any)) {
	for _, a := range sortedAttrs(body) {
		switch {
		case a.Name == "schema":
			report(a.NameRange, `an app does not name its schema: remove "schema = ..." (the set decides where the app lands)`)
		case !slices.Contains(spec.attrs, a.Name):
			report(a.NameRange, "unknown attribute %q%s (allowed: %s)", a.Name, where, allowed(spec.attrs))
		}
	}
	for _, b := range body.Blocks {
		child, ok := spec.blocks[b.Type]
		switch {
		case b.Type == "schema" && where == "":
			report(b.TypeRange, `an app does not name its schema: remove the "schema" block (the set decides where the app lands)`)
		case !ok:
			report(b.TypeRange, "unknown block %q%s (allowed: %s)", b.Type, where, allowed(blockTypes(spec)))
		case len(b.Labels) < child.labels[0] || len(b.Labels) > child.labels[1]:
			report(b.TypeRange, "block %q takes %s", b.Type, labelCount(child.labels))
		default:
			checkBody(b.Body, child, fmt.Sprintf(" in %s", describeBlock(b)), report)
		}
	}
}

// sortedAttrs returns body's attributes in source order, so that errors come out in a stable order.
func sortedAttrs(body *hclsyntax.Body) []*hclsyntax.Attribute {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	slices.SortFunc(attrs, func(x, y *hclsyntax.Attribute) int { return x.SrcRange.Start.Byte - y.SrcRange.Start.Byte })
	return attrs
}

func blockTypes(spec *blockSpec) []string {
	var names []string
	for n := range spec.blocks {
		names = append(names, n)
	}
	return names
}

func allowed(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	names = slices.Sorted(slices.Values(names))
	return strings.Join(names, ", ")
}

func labelCount(n [2]int) string {
	switch {
	case n[0] == n[1] && n[0] == 1:
		return "one label (its name)"
	case n[0] == n[1]:
		return "no label"
	}
	return fmt.Sprintf("%d to %d labels", n[0], n[1])
}

func describeBlock(b *hclsyntax.Block) string {
	if len(b.Labels) == 0 {
		return b.Type
	}
	return fmt.Sprintf("%s %q", b.Type, b.Labels[len(b.Labels)-1])
}

// diagError converts the first error of HCL diagnostics into an *Error at its line, wrapping
// sentinel (nil for none).
func diagError(app, file string, diags hcl.Diagnostics, sentinel error) *Error {
	e := &Error{App: app, File: file}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			e.Line = d.Subject.Start.Line
			if d.Subject.Filename != "" {
				e.File = d.Subject.Filename
			}
		}
		e.Err = errors.New(msg)
		if sentinel != nil {
			e.Err = fmt.Errorf("%w: %s", sentinel, msg)
		}
		break
	}
	return e
}
