package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/pgschemas/pgschemas/schemaset"
)

// selectorFlags are the flags that pick schemas: -s, -x, --all, --static, --dynamic, --tenants.
type selectorFlags struct {
	schemas, exclude              []string
	all, static, dynamic, tenants bool
}

func (f *selectorFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&f.schemas, "schema", "s", nil, "a schema: public, a static tenant, the reference, a dynamic tenant or a domain[/folder] (repeatable)")
	fs.StringArrayVarP(&f.exclude, "exclude", "x", nil, "leave out a schema, written as for --schema (repeatable)")
	fs.BoolVar(&f.all, "all", false, "every schema: public, static tenants, the reference and dynamic tenants")
	fs.BoolVar(&f.static, "static", false, "public, the static tenants and the reference")
	fs.BoolVar(&f.dynamic, "dynamic", false, "every dynamic tenant")
	fs.BoolVar(&f.tenants, "tenants", false, "every dynamic tenant and the reference")
}

func (f *selectorFlags) selector() schemaset.Selector {
	return schemaset.Selector{
		Schemas: f.schemas, Exclude: f.exclude,
		All: f.all, Static: f.static, Dynamic: f.dynamic, Tenants: f.tenants,
	}
}

// selectAll resolves the flags, selecting every schema when none of -s, --all, --static,
// --dynamic and --tenants is given (-x alone then excludes from all).
func (f *selectorFlags) selectAll(ctx context.Context, eng *schemaset.Engine) ([]schemaset.Target, error) {
	sel := f.selector()
	if sel.IsZero() {
		sel.All = true
	}
	return eng.Select(ctx, sel)
}

// required is a usage error when no selector is given; cmd names the command in the message.
func (f *selectorFlags) required(cmd string) error {
	if f.selector().IsZero() {
		return usageErrorf("%s needs a selector: -s/--schema, --all, --static, --dynamic or --tenants", cmd)
	}
	return nil
}
