package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pgschemas/pgschemas/internal/domainname"
)

// Selector picks schemas, as the CLI's selector flags do. Groups add schemas; Schemas adds single
// ones; Exclude removes. The result is always in apply order: public, static tenants, the
// reference, then dynamic tenants by name.
type Selector struct {
	// Schemas are single schemas: public, a static name, the reference, a dynamic tenant's schema,
	// or a domain ("host" or "host/folder") of a static or dynamic tenant.
	Schemas []string
	// Exclude removes schemas, written as in Schemas.
	Exclude []string
	// All selects every schema: public, static tenants, the reference and dynamic tenants.
	All bool
	// Static selects public, the static tenants and the reference (the reference is static).
	Static bool
	// Dynamic selects every dynamic tenant.
	Dynamic bool
	// Tenants selects every dynamic tenant and the reference.
	Tenants bool
}

// IsZero reports whether the selector selects nothing.
func (s Selector) IsZero() bool {
	return len(s.Schemas) == 0 && !s.All && !s.Static && !s.Dynamic && !s.Tenants
}

// Select returns the schemas sel picks. A name that matches nothing is an error wrapping
// ErrUnknownSchema.
func (e *Engine) Select(ctx context.Context, sel Selector) ([]Target, error) {
	var dynamic []string
	if sel.All || sel.Dynamic || sel.Tenants || len(sel.Schemas) > 0 || len(sel.Exclude) > 0 {
		var err error
		if dynamic, err = e.Tenants(ctx); err != nil {
			return nil, err
		}
	}
	picked := map[string]Target{}
	add := func(t Target) { picked[t.Schema] = t }
	for _, t := range e.set.StaticTargets() {
		switch {
		case sel.All, sel.Static:
			add(t)
		case sel.Tenants && t.Kind == KindReference:
			add(t)
		}
	}
	if sel.All || sel.Dynamic || sel.Tenants {
		for _, name := range dynamic {
			add(Target{Schema: name, Kind: KindDynamic})
		}
	}
	for _, s := range sel.Schemas {
		t, err := e.lookup(ctx, s, dynamic)
		if err != nil {
			return nil, err
		}
		add(t)
	}
	for _, s := range sel.Exclude {
		t, err := e.lookup(ctx, s, dynamic)
		if err != nil {
			return nil, err
		}
		delete(picked, t.Schema)
	}
	return e.order(picked), nil
}

// order sorts targets into apply order.
func (e *Engine) order(picked map[string]Target) []Target {
	var out []Target
	for _, t := range e.set.StaticTargets() {
		if _, ok := picked[t.Schema]; ok {
			out = append(out, t)
			delete(picked, t.Schema)
		}
	}
	var rest []Target
	for _, t := range picked {
		rest = append(rest, t)
	}
	slices.SortFunc(rest, func(a, b Target) int { return strings.Compare(a.Schema, b.Schema) })
	return append(out, rest...)
}

// lookup finds one schema by name or by domain.
func (e *Engine) lookup(ctx context.Context, s string, dynamic []string) (Target, error) {
	if t, ok := e.set.KindOf(s); ok && t.Schema == s {
		return t, nil
	}
	if slices.Contains(dynamic, s) {
		return Target{Schema: s, Kind: KindDynamic}, nil
	}
	host, folder, _ := strings.Cut(strings.ToLower(strings.TrimSuffix(s, ".")), "/")
	if h, f, err := domainname.Parse(s); err == nil {
		host, folder = h, f // the stored form: an internationalized name in punycode
	}
	if folder == "" {
		for _, st := range e.set.Config.Static {
			for _, d := range append(slices.Clone(st.Domains), st.FallbackDomains...) {
				if configHost(d) == host {
					return Target{Schema: st.Name, Kind: KindStatic}, nil
				}
			}
		}
	}
	var tenant string
	err := e.db.QueryRowContext(ctx, `SELECT tenant FROM public.pgschemas_domain WHERE domain = $1 AND folder = $2`, host, folder).Scan(&tenant)
	switch {
	case err == nil:
		return Target{Schema: tenant, Kind: KindDynamic}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return Target{}, fmt.Errorf("schemaset: look up domain %q: %w", s, err)
	}
	return Target{}, fmt.Errorf("schemaset: %q: %w (not public, a static tenant, the reference, a dynamic tenant or a known domain)", s, ErrUnknownSchema)
}

// Tenants lists the dynamic tenants' schema names, sorted.
func (e *Engine) Tenants(ctx context.Context) ([]string, error) {
	if err := e.ensureRegistry(ctx); err != nil {
		return nil, err
	}
	out, err := queryStrings(ctx, e.db, `SELECT schema_name FROM public.pgschemas_tenant ORDER BY schema_name`)
	if err != nil {
		return nil, fmt.Errorf("schemaset: list tenants: %w", err)
	}
	return out, nil
}
