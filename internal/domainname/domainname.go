package domainname

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrInvalid is wrapped by every refusal of this package.
var ErrInvalid = errors.New("invalid domain")

// MaxHostLen is the longest host name DNS allows, in bytes, without the trailing dot; MaxLabelLen
// the longest label.
const (
	MaxHostLen  = 253
	MaxLabelLen = 63
)

// Error is a refused host or folder: the input as given, what it was (host or folder), and the
// rule it broke.
type Error struct {
	Input string
	// Part is "host", "folder" or "domain" (a HOST/FOLDER string that does not split).
	Part string
	Rule string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s %.80q: %s", ErrInvalid, e.Part, e.Input, e.Rule)
}

func (e *Error) Unwrap() error { return ErrInvalid }

// profile converts internationalized names: the lookup profile (case and width folding, NFC, the
// bidi and joiner rules) with the checks of DNS lengths and STD3 characters.
var profile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.StrictDomainName(true))

// Host returns the stored form of the host name s: lower case, internationalized labels in
// punycode, without one trailing dot. s may be written in any case, in Unicode or in punycode.
// A host that breaks a rule gives an *Error that names the rule.
func Host(s string) (string, error) {
	fail := func(format string, args ...any) (string, error) {
		return "", &Error{Input: s, Part: "host", Rule: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return fail("empty")
	}
	if i := invalidUTF8(s); i >= 0 {
		return fail("invalid UTF-8 at byte %d", i)
	}
	ascii := true
	for i, r := range s {
		switch {
		case unicode.IsControl(r):
			return fail("control character %U at byte %d: a host holds no control characters", r, i)
		case unicode.IsSpace(r):
			return fail("space character %U at byte %d: a host holds no spaces", r, i)
		case r >= utf8.RuneSelf:
			ascii = false
		}
	}
	switch {
	case strings.Contains(s, "://"):
		return fail("has a scheme: write the host name only")
	case strings.ContainsRune(s, '/'):
		return fail("has a path: write the host name only")
	case strings.ContainsRune(s, ':'):
		return fail("has a port or is an IPv6 address: write the host name only")
	case strings.ContainsRune(s, '*'):
		return fail("has the wildcard '*': a domain routes one host name; add each host")
	case s[0] == '.':
		return fail("starts with a dot")
	}
	name := strings.TrimSuffix(s, ".")
	if err := checkLabels(name, !ascii); err != "" {
		return fail("%s", err)
	}
	if ascii && isLowerLDH(name) && !strings.Contains(name, "xn--") {
		return name, nil
	}
	out, err := profile.ToASCII(name)
	if err != nil {
		return fail("not a valid internationalized name (IDNA 2008, UTS #46): %v", err)
	}
	out = strings.ToLower(out)
	if err := checkLabels(out, false); err != "" {
		return fail("in punycode %q: %s", out, err)
	}
	return out, nil
}

// checkLabels says which rule name (no trailing dot) breaks, or returns "". With unicode, bytes
// of multi-byte characters pass: the IDNA conversion checks them, and lengths are checked again
// on its output.
func checkLabels(name string, unicode bool) string {
	if !unicode && len(name) > MaxHostLen {
		return fmt.Sprintf("%d bytes long, the limit is %d", len(name), MaxHostLen)
	}
	start := 0
	for start <= len(name) {
		end := strings.IndexByte(name[start:], '.')
		if end < 0 {
			end = len(name)
		} else {
			end += start
		}
		label := name[start:end]
		switch {
		case label == "":
			return "has an empty label (two dots in a row, or nothing between dots)"
		case !unicode && len(label) > MaxLabelLen:
			return fmt.Sprintf("the label %.20q... is %d bytes long; a label has 1 to %d", label, len(label), MaxLabelLen)
		case label[0] == '-':
			return fmt.Sprintf("the label %q starts with a hyphen", label)
		case label[len(label)-1] == '-':
			return fmt.Sprintf("the label %q ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c >= utf8.RuneSelf && unicode || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				continue
			}
			r, _ := utf8.DecodeRuneInString(label[i:])
			return fmt.Sprintf("character %q at byte %d: a label holds letters, digits and inner hyphens", r, start+i)
		}
		start = end + 1
	}
	return ""
}

// isLowerLDH reports whether name holds lower-case letters, digits, hyphens and dots only.
func isLowerLDH(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '-' || c == '.' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Folder checks a folder, the first segment of a URL path without slashes; "" (no folder) passes.
// A folder that breaks a rule gives an *Error that names the rule.
func Folder(f string) error {
	fail := func(format string, args ...any) error {
		return &Error{Input: f, Part: "folder", Rule: fmt.Sprintf(format, args...)}
	}
	switch f {
	case "":
		return nil
	case ".", "..":
		return fail("%q is a relative path segment, never a folder", f)
	}
	if i := invalidUTF8(f); i >= 0 {
		return fail("invalid UTF-8 at byte %d", i)
	}
	for i, r := range f {
		switch {
		case r == '-' || r == '.' || r == '_' || r == '~' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9':
		case r == '/':
			return fail("has a '/' at byte %d: a folder is one path segment", i)
		case unicode.IsControl(r):
			return fail("control character %U at byte %d: a folder holds letters, digits, '-', '.', '_' and '~'", r, i)
		default:
			return fail("character %q at byte %d: a folder holds letters, digits, '-', '.', '_' and '~' (URL characters that need no escaping)", r, i)
		}
	}
	return nil
}

// Parse splits "HOST" or "HOST/FOLDER" and checks both parts: it returns the stored form of the
// host (see Host) and the folder.
func Parse(s string) (host, folder string, err error) {
	h, f, hasFolder := strings.Cut(s, "/")
	if strings.Contains(h, ":") && strings.HasPrefix(f, "/") {
		return "", "", &Error{Input: s, Part: "domain", Rule: "has a scheme: write HOST or HOST/FOLDER"}
	}
	if host, err = Host(h); err != nil {
		return "", "", err
	}
	if hasFolder && f == "" {
		return "", "", &Error{Input: s, Part: "domain", Rule: "nothing after the '/': write HOST, or HOST/FOLDER"}
	}
	if err := Folder(f); err != nil {
		return "", "", err
	}
	return host, f, nil
}

// invalidUTF8 returns the offset of the first byte of s that is not valid UTF-8, or -1.
func invalidUTF8(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
