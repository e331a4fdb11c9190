package driver

// Fuzz targets, with their seed corpora in testdata/fuzz/<target>/. `go test` runs the seeds as
// regression tests; .ci/run fuzzes each target for a few seconds:
//
//	go test -run '^$' -fuzz '^FuzzCheckSchemaName$' -fuzztime 10s ./driver/
//
// They are in package driver to reach the quoting that builds the SQL sent with a schema name.

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// tenantName is the rule CheckSchemaName documents, as a regular expression.
var tenantName = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]{0,62}$`)

// FuzzCheckSchemaName checks CheckSchemaName against its documented rule, and that a name it
// accepts survives every quoting the driver applies to it: in the search path, as the quoted name
// that the stamp's regnamespace cast looks up, and as the string literal of a stamped Query.
func FuzzCheckSchemaName(f *testing.F) {
	const tail = `public, "ext", pg_temp`
	f.Fuzz(func(t *testing.T, name string) {
		err := CheckSchemaName(name)
		want := tenantName.MatchString(name) && !strings.HasPrefix(strings.ToLower(name), "pg_") && !strings.EqualFold(name, "public")
		if (err == nil) != want {
			t.Fatalf("CheckSchemaName(%q) = %v; the documented rule says valid: %t", name, err, want)
		}
		if _, serr := schemaOf(WithSchema(context.Background(), name)); (serr == nil) != want {
			t.Fatalf("schemaOf(WithSchema(%q)) = %v; want valid: %t", name, serr, want)
		}
		if got, ok := SchemaFrom(WithSchema(context.Background(), name)); !ok || got != name {
			t.Fatalf("SchemaFrom(WithSchema(%q)) = %q, %t", name, got, ok)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidSchemaName) {
				t.Fatalf("CheckSchemaName(%q) = %v, want an error wrapping ErrInvalidSchemaName", name, err)
			}
			return
		}
		path := joinPath(name, tail)
		if got, ok := splitPath(path); !ok || !slices.Equal(got, []string{name, "public", "ext", "pg_temp"}) {
			t.Fatalf("search path %q for %q parses as %q (%t), want [%s public ext pg_temp]", path, name, got, ok, name)
		}
		if got, ok := splitPath(quoteSchema(name)); !ok || !slices.Equal(got, []string{name}) {
			t.Fatalf("quoteSchema(%q) = %q parses as %q (%t)", name, quoteSchema(name), got, ok)
		}
		if got := (pgx.Identifier{name}).Sanitize(); got != quoteSchema(name) {
			t.Fatalf("quoteSchema(%q) = %q, pgx quotes it %q", name, quoteSchema(name), got)
		}
		// A stamped Query holds the path and the quoted name between single quotes, as they are.
		if strings.ContainsAny(path, "'\\\x00") || strings.ContainsAny(quoteSchema(name), "'\\\x00") {
			t.Fatalf("the path %q for %q holds a quote, a backslash or a NUL: it cannot stand in a literal as it is", path, name)
		}
	})
}

// splitPath splits a search_path value as PostgreSQL's SplitIdentifierString does: names
// separated by commas and optional spaces, each double-quoted ("" inside is one quote), or bare
// and folded to lower case. It reports false for a value PostgreSQL would reject.
func splitPath(s string) ([]string, bool) {
	var out []string
	i := 0
	skip := func() {
		for i < len(s) && strings.IndexByte(" \t\n\r\f\v", s[i]) >= 0 {
			i++
		}
	}
	skip()
	for {
		if i < len(s) && s[i] == '"' {
			var b strings.Builder
			for i++; ; i++ {
				if i >= len(s) {
					return nil, false // unterminated
				}
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i++
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
			}
			if b.Len() == 0 {
				return nil, false // a zero-length quoted name
			}
			out = append(out, b.String())
		} else {
			start := i
			for i < len(s) && s[i] != ',' && s[i] != '"' && strings.IndexByte(" \t\n\r\f\v", s[i]) < 0 {
				i++
			}
			if i == start {
				return nil, false
			}
			out = append(out, strings.ToLower(s[start:i]))
		}
		skip()
		if i == len(s) {
			return out, true
		}
		if s[i] != ',' {
			return nil, false
		}
		i++
		skip()
	}
}

// FuzzParseConfig checks ParseConfig on any string, with pgx's parser as the oracle: it never
// panics; it fails where pgx fails; where pgx succeeds, it fails exactly when a pgschemas_
// parameter is unknown or has a bad value; and what it returns reaches the server with no
// pgschemas_ parameter, extra search paths that are valid and distinct, and a known pooler mode.
func FuzzParseConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, dsn string) { checkParseConfig(t, dsn) })
}

// FuzzParseConfigParam puts one parameter, key=value, into both forms of connection string, so
// that the fuzzer works on the parameters rather than on the syntax around them.
func FuzzParseConfigParam(f *testing.F) {
	f.Fuzz(func(t *testing.T, key, value string) {
		checkParseConfig(t, "postgres://u@h/d?"+url.QueryEscape(key)+"="+url.QueryEscape(value))
		quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'"
		checkParseConfig(t, "host=h user=u dbname=d "+key+"="+quoted)
	})
}

func checkParseConfig(t *testing.T, dsn string) {
	t.Helper()
	cfg, err := ParseConfig(dsn)
	ref, refErr := pgx.ParseConfig(dsn)
	if refErr != nil {
		if err == nil {
			t.Fatalf("ParseConfig(%q) succeeded where pgx fails: %v", dsn, refErr)
		}
		return
	}
	var unknown, badValue bool
	for key, value := range ref.RuntimeParams {
		switch {
		case !hasPrefixFold(key, paramPrefix):
		case key == ParamPooler:
			badValue = badValue || value != "" && value != string(PoolSession) && value != string(PoolTransaction)
		case key == ParamExtraSearchPaths:
			var seen []string
			for _, s := range strings.Split(value, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				badValue = badValue || CheckSchemaName(s) != nil || slices.Contains(seen, s)
				seen = append(seen, s)
			}
		default:
			unknown = true
		}
	}
	switch {
	case unknown:
		if err == nil || !strings.Contains(err.Error(), "unknown DSN parameter") {
			t.Fatalf("ParseConfig(%q) = %v, want an unknown DSN parameter error (pgx's params: %q)", dsn, err, ref.RuntimeParams)
		}
		return
	case badValue:
		if err == nil {
			t.Fatalf("ParseConfig(%q) accepted a bad value (pgx's params: %q)", dsn, ref.RuntimeParams)
		}
		return
	case err != nil:
		t.Fatalf("ParseConfig(%q) = %v; pgx accepts it, and its pgschemas_ parameters are good (%q)", dsn, err, ref.RuntimeParams)
	}
	for key := range cfg.ConnConfig.RuntimeParams {
		if hasPrefixFold(key, paramPrefix) {
			t.Fatalf("ParseConfig(%q) left %q for the server", dsn, key)
		}
	}
	if len(cfg.ConnConfig.RuntimeParams) != len(ref.RuntimeParams)-countOurs(ref.RuntimeParams) {
		t.Fatalf("ParseConfig(%q) kept %q of pgx's %q", dsn, cfg.ConnConfig.RuntimeParams, ref.RuntimeParams)
	}
	if _, err := NewConnector(cfg); err != nil {
		t.Fatalf("NewConnector(ParseConfig(%q)) = %v", dsn, err)
	}
}

func countOurs(params map[string]string) (n int) {
	for key := range params {
		if hasPrefixFold(key, paramPrefix) {
			n++
		}
	}
	return n
}
