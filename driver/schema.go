package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Operations return them wrapped in a *SchemaError, so test with errors.Is.
var (
	// ErrInvalidSchemaName: the name does not match ^[_a-zA-Z][_a-zA-Z0-9]{0,62}$, starts with pg_,
	// or names public. Nothing was sent to the server.
	ErrInvalidSchemaName = errors.New("invalid schema name")

	// ErrSchemaNotFound: the schema does not exist on the server. The search path was not changed
	// and the statement did not run.
	ErrSchemaNotFound = errors.New("schema not found")

	// ErrSchemaMismatch: a statement inside a transaction carried a context for another schema than
	// the one the transaction began with. The statement did not run; the transaction stays usable.
	ErrSchemaMismatch = errors.New("schema does not match the transaction's schema")
	// ErrNoTenant: Config.RequireTenant is on and the operation's context names no schema. Nothing
	// was sent.
	ErrNoTenant = errors.New("no tenant in the context, and the driver requires one (pgschemas_require_tenant)")
)

// SchemaError reports an operation that could not run in the schema its context asked for.
type SchemaError struct {
	Schema string // the schema of the operation's context; "" for none
	Err    error  // the cause: wraps a sentinel above, or the server's error (a *pgconn.PgError)
}

func (e *SchemaError) Error() string {
	if e.Schema == "" {
		return fmt.Sprintf("pgschemas: no schema: %v", e.Err)
	}
	return fmt.Sprintf("pgschemas: schema %q: %v", e.Schema, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// MaxSchemaNameLen is PostgreSQL's identifier limit (NAMEDATALEN-1).
const MaxSchemaNameLen = 63

// CheckSchemaName reports whether name can be a tenant schema: it must match
// ^[_a-zA-Z][_a-zA-Z0-9]{0,62}$, must not start with pg_ (reserved by PostgreSQL), and must not be
// public in any case (public is shared, never a tenant). The error wraps ErrInvalidSchemaName and says
// what is wrong.
func CheckSchemaName(name string) error {
	reason := ""
	switch {
	case name == "":
		reason = "empty"
	case len(name) > MaxSchemaNameLen:
		reason = fmt.Sprintf("%d bytes long, the limit is %d", len(name), MaxSchemaNameLen)
	case len(name) >= 3 && strings.EqualFold(name[:3], "pg_"):
		reason = "names starting with pg_ are reserved by PostgreSQL"
	case strings.EqualFold(name, "public"):
		reason = "public is shared and is never a tenant; use a context without a schema"
	default:
		for i := 0; i < len(name); i++ {
			c := name[i]
			if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
				continue
			}
			what := fmt.Sprintf("byte 0x%02x (not UTF-8)", c)
			if r, n := utf8.DecodeRuneInString(name[i:]); r != utf8.RuneError || n > 1 {
				what = fmt.Sprintf("character %q", r) // 'ü', not its first byte
			}
			reason = fmt.Sprintf("%s at byte %d: must match ^[_a-zA-Z][_a-zA-Z0-9]{0,62}$", what, i)
			break
		}
	}
	if reason == "" {
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidSchemaName, name, reason)
}

// quoteSchema quotes a name that CheckSchemaName accepted. Such a name holds no double quote and
// no NUL, so enclosing it in double quotes is PostgreSQL's identifier quoting, and keeps its case.
func quoteSchema(name string) string { return `"` + name + `"` }

// schemaKey is the context key of the tenant schema.
type schemaKey struct{}

// ctxSchema is the value stored under schemaKey: the name, checked once when the context is made,
// so that operations do not check it again.
type ctxSchema struct {
	name string
	err  error // CheckSchemaName(name)
}

// WithSchema returns a copy of ctx that carries the tenant schema name. Every operation of the
// pgschemas driver run with that context runs with the search path "name", public, <extra paths>.
// An invalid name is not reported here: each operation with the context fails with
// ErrInvalidSchemaName before anything is sent.
func WithSchema(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, schemaKey{}, &ctxSchema{name: name, err: CheckSchemaName(name)})
}

// SchemaFrom returns the schema name that WithSchema stored in ctx, and whether there is one.
func SchemaFrom(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(schemaKey{}).(*ctxSchema)
	if !ok {
		return "", false
	}
	return s.name, true
}

// schemaOf returns the checked schema of ctx: "" without one, or a *SchemaError for an invalid name.
func schemaOf(ctx context.Context) (string, error) {
	s, ok := ctx.Value(schemaKey{}).(*ctxSchema)
	if !ok {
		return "", nil
	}
	if s.err != nil {
		return "", &SchemaError{Schema: s.name, Err: s.err}
	}
	return s.name, nil
}
