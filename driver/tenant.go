package driver

import (
	"context"
	"encoding"
	"fmt"
)

// Tenant is a tenant's schema name, to carry a tenant where a context does not go: a job payload,
// a queue message, a row, a command-line flag. The zero value is no tenant: work for it runs in
// public, like a context without a schema.
//
// It marshals as its name, as text (encoding.TextMarshaler, so a JSON string, a flag.TextVar, ...),
// and the zero value as "". A name that CheckSchemaName refuses is refused both ways: ParseTenant
// and UnmarshalText fail on it, so nothing invalid comes in from a payload, and MarshalText fails
// for a Tenant converted from an invalid string, so nothing invalid goes out. "public" is refused
// too: the zero value stands for it.
//
// To run a func in each tenant's schema, with bounded parallelism and one error per schema, use
// [github.com/pgschemas/pgschemas/schemaset.Engine.ForEach]; a job queued for one tenant carries a
// Tenant, and its worker runs it with [Tenant.Context].
type Tenant string

var (
	_ encoding.TextMarshaler   = Tenant("")
	_ encoding.TextUnmarshaler = (*Tenant)(nil)
	_ fmt.Stringer             = Tenant("")
)

// ParseTenant returns the Tenant of name: the zero Tenant for "", else name when CheckSchemaName
// accepts it. Otherwise the error wraps ErrInvalidSchemaName.
func ParseTenant(name string) (Tenant, error) {
	if name == "" {
		return "", nil
	}
	if err := CheckSchemaName(name); err != nil {
		return "", fmt.Errorf("pgschemas: tenant: %w", err)
	}
	return Tenant(name), nil
}

// TenantOf returns the schema that ctx carries (WithSchema) as a Tenant: the zero Tenant when ctx
// has none. A name that CheckSchemaName refuses is an error (a *SchemaError wrapping
// ErrInvalidSchemaName), so that it cannot reach a payload.
func TenantOf(ctx context.Context) (Tenant, error) {
	schema, err := schemaOf(ctx)
	return Tenant(schema), err
}

// Context returns a copy of ctx in which the pgschemas driver, and pools that ConfigurePool
// configured, run in t's schema: WithSchema(ctx, string(t)). For the zero Tenant, the copy has no
// schema, whatever schema ctx had, so that work for public runs in public.
func (t Tenant) Context(ctx context.Context) context.Context {
	if t == "" {
		return context.WithValue(ctx, schemaKey{}, noSchema{})
	}
	return WithSchema(ctx, string(t))
}

// noSchema, stored under schemaKey, hides the schema of a parent context: the context has none.
type noSchema struct{}

// String returns the schema name, "" for the zero Tenant.
func (t Tenant) String() string { return string(t) }

// MarshalText returns the schema name, empty for the zero Tenant. It fails for a name that
// CheckSchemaName refuses.
func (t Tenant) MarshalText() ([]byte, error) {
	if _, err := ParseTenant(string(t)); err != nil {
		return nil, err
	}
	return []byte(t), nil
}

// UnmarshalText sets *t to ParseTenant(string(text)). On error, *t is left as it was.
func (t *Tenant) UnmarshalText(text []byte) error {
	parsed, err := ParseTenant(string(text))
	if err != nil {
		return err
	}
	*t = parsed
	return nil
}

// WithSchemaOf returns a copy of dst that carries the schema of src, or no schema when src has
// none (a schema dst had is then hidden). It carries the name as src has it: an invalid one still
// fails each operation with ErrInvalidSchemaName.
//
// It is for work that outlives the context that chose the tenant, such as a goroutine started by
// a request handler, which must not end with the request:
//
//	go audit(driver.WithSchemaOf(context.Background(), r.Context()))
//
// (context.WithoutCancel(r.Context()) keeps the schema too, with every other value of the request.)
func WithSchemaOf(dst, src context.Context) context.Context {
	if s, ok := src.Value(schemaKey{}).(*ctxSchema); ok {
		return context.WithValue(dst, schemaKey{}, s)
	}
	return Tenant("").Context(dst)
}
