package schemaset

import (
	"strings"
)

// cloneLiteral quotes an SQL string literal, whatever standard_conforming_strings says (a comment
// may hold backslashes).
func cloneLiteral(s string) string {
	if strings.Contains(s, `\`) {
		return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// rewritePath replaces the schema src by the destination (dstMark) in a search_path value as
// pg_proc.proconfig stores it ("sample, public"); changed is false when src is not in it.
func rewritePath(v, src string) (string, bool) {
	parts := strings.Split(v, ",")
	changed := false
	for i, p := range parts {
		p = strings.TrimSpace(p)
		name := strings.ToLower(p)
		if strings.HasPrefix(p, `"`) && strings.HasSuffix(p, `"`) && len(p) >= 2 {
			name = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
		}
		if name == src {
			p, changed = dstMark, true
		}
		parts[i] = p
	}
	return strings.Join(parts, ", "), changed
}

// rewriteQualified rewrites, in the text of a function definition, each qualified name src.x,
// where x is in names (the source's relations, types and functions), to the destination's
// (dstMark.x). String literals, comments and quoted strings are left as they are, except for the
// dollar-quoted body of the function, which is scanned as code (one level: a dollar-quoted string
// inside the body is a literal, as in EXECUTE $q$ ... $q$).
//
// A name in a body is taken for the schema when it is followed by a dot and one of the source's
// object names: a variable or alias named like the source schema, followed by a field named like
// one of its tables, would be rewritten too.
func rewriteQualified(s, src string, names map[string]bool) string {
	if !strings.Contains(strings.ToLower(s), strings.ToLower(src)) {
		return s
	}
	return sqlRewriter{src: src, names: names}.rewrite(s, true)
}

type sqlRewriter struct {
	src   string
	names map[string]bool
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' || c == '$' }

// ident reads an identifier at s[i:]: its value (folded to lower case unless quoted) and its end;
// ok is false when there is none.
func ident(s string, i int) (name string, end int, ok bool) {
	switch {
	case i < len(s) && s[i] == '"':
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			if s[j] != '"' {
				b.WriteByte(s[j])
				continue
			}
			if j+1 < len(s) && s[j+1] == '"' {
				b.WriteByte('"')
				j++
				continue
			}
			return b.String(), j + 1, true
		}
		return "", len(s), false
	case i < len(s) && isIdentStart(s[i]):
		j := i + 1
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		return strings.ToLower(s[i:j]), j, true
	}
	return "", i, false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// dollarTag returns the tag ("$body$") that starts at s[i], or "".
func dollarTag(s string, i int) string {
	if s[i] != '$' {
		return ""
	}
	j := i + 1
	if j < len(s) && isIdentStart(s[j]) && s[j] != '$' {
		for j < len(s) && isIdentChar(s[j]) && s[j] != '$' {
			j++
		}
	}
	if j < len(s) && s[j] == '$' {
		return s[i : j+1]
	}
	return ""
}

// rewrite scans s as SQL; top is true for the definition itself, whose dollar-quoted strings are
// function bodies.
func (r sqlRewriter) rewrite(s string, top bool) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\'':
			// A literal; E'...' takes backslash escapes.
			escapes := i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdentChar(s[i-2]))
			j := i + 1
			for j < len(s) {
				if escapes && s[j] == '\\' {
					j += 2
					continue
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(s))
			b.WriteString(s[i:j])
			i = j
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			depth, j := 1, i+2
			for j < len(s) && depth > 0 {
				switch {
				case strings.HasPrefix(s[j:], "/*"):
					depth, j = depth+1, j+2
				case strings.HasPrefix(s[j:], "*/"):
					depth, j = depth-1, j+2
				default:
					j++
				}
			}
			b.WriteString(s[i:j])
			i = j
		case c == '$' && dollarTag(s, i) != "" && (i == 0 || !isIdentChar(s[i-1])):
			tag := dollarTag(s, i)
			start := i + len(tag)
			end := strings.Index(s[start:], tag)
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			body := s[start : start+end]
			if top {
				body = r.rewrite(body, false)
			}
			b.WriteString(tag + body + tag)
			i = start + end + len(tag)
		case c == '"' || isIdentStart(c):
			name, end, _ := ident(s, i)
			// An unquoted name is folded to lower case, so it matches only a lower-case src.
			if name == r.src {
				if dot := skipSpace(s, end); dot < len(s) && s[dot] == '.' {
					if next, _, ok := ident(s, skipSpace(s, dot+1)); ok && r.names[next] {
						b.WriteString(dstMark)
						i = end
						continue
					}
				}
			}
			b.WriteString(s[i:end])
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
