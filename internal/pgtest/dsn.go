package pgtest

import (
	"fmt"
	"strings"
)

// WithParams returns dsn with the pairs of kv (key, value, key, value, ...) added in dsn's own
// form: URL query parameters, or keyword/value pairs. pgx takes the last of a repeated key, so a
// pair overrides one that dsn already has. An empty dsn (the libpq environment) takes keyword form.
func WithParams(dsn string, kv ...string) string {
	isURL := strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
	var b strings.Builder
	b.WriteString(dsn)
	for i := 0; i+1 < len(kv); i += 2 {
		switch {
		case isURL && strings.Contains(b.String(), "?"):
			b.WriteString("&" + kv[i] + "=" + uriEscape(kv[i+1]))
		case isURL:
			b.WriteString("?" + kv[i] + "=" + uriEscape(kv[i+1]))
		case b.Len() == 0:
			b.WriteString(kv[i] + "=" + quoteValue(kv[i+1]))
		default:
			b.WriteString(" " + kv[i] + "=" + quoteValue(kv[i+1]))
		}
	}
	return b.String()
}

// uriEscape percent-encodes every byte of s but the unreserved ones, as a URL query value
// libpq and pgx decode ('+' is not a space to them).
func uriEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// quoteValue quotes a keyword/value connection string value where it needs quoting: empty, or
// with a space, a quote or a backslash.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\\'") {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}
