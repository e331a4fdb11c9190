package domainname_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/internal/domainname"
)

func TestHostAccepted(t *testing.T) {
	for in, want := range map[string]string{
		"acme.example.test":             "acme.example.test",
		"ACME.Example.TEST":             "acme.example.test",
		"acme.example.test.":            "acme.example.test",
		"localhost":                     "localhost",
		"a-b.c0.test":                   "a-b.c0.test",
		"ünicode.test":                  "xn--nicode-2ya.test",
		"ÜNICODE.test":                  "xn--nicode-2ya.test",
		"xn--nicode-2ya.test":           "xn--nicode-2ya.test",
		"XN--NICODE-2YA.TEST":           "xn--nicode-2ya.test",
		"bücher.例え.test":                "xn--bcher-kva.xn--r8jz45g.test",
		strings.Repeat("a", 63):         strings.Repeat("a", 63),
		strings.Repeat("a.", 126) + "a": strings.Repeat("a.", 126) + "a",
	} {
		got, err := domainname.Host(in)
		if err != nil || got != want {
			t.Errorf("Host(%q) = %q, %v; want %q", in, got, err, want)
		}
		// The stored form is a fixed point.
		if again, err := domainname.Host(got); err != nil || again != got {
			t.Errorf("Host(%q) = %q, %v; want it unchanged", got, again, err)
		}
	}
}

// TestHostRefused holds every host the issue listed as wrongly accepted, and more, each with the
// rule its message must name.
func TestHostRefused(t *testing.T) {
	for _, c := range []struct{ in, rule string }{
		{"", "empty"},
		{"a..b", "empty label"},
		{".host", "starts with a dot"},
		{"host..", "empty label"},
		{"*.example.test", "wildcard '*'"},
		{"a.*.test", "wildcard '*'"},
		{strings.Repeat("a", 64) + ".test", "is 64 bytes long; a label has 1 to 63"},
		{strings.Repeat("a", 300), "300 bytes long, the limit is 253"},
		{strings.Repeat("abcdefghi.", 30) + "test", "304 bytes long, the limit is 253"},
		{`host\test`, `character '\\' at byte 4: a label holds letters, digits and inner hyphens`},
		{"host;test", "character ';' at byte 4"},
		{"host_test", "character '_' at byte 4"},
		{"host\n", "control character U+000A at byte 4"},
		{"ho\x7fst", "control character U+007F at byte 2"},
		{"ho st", "space character U+0020 at byte 2"},
		{"host\u00a0x", "space character U+00A0"},
		{"-host.test", `the label "-host" starts with a hyphen`},
		{"host-.test", `the label "host-" ends with a hyphen`},
		{"host:8080", "has a port"},
		{"https://host", "has a scheme"},
		{"host/x", "has a path"},
		{"ho\xffst", "invalid UTF-8 at byte 2"},
		{"xn--zz.test", "not a valid internationalized name"},
		{"a\u200db.test", "not a valid internationalized name"},
		{longUnicodeLabel() + ".test", "not a valid internationalized name"},
	} {
		got, err := domainname.Host(c.in)
		var de *domainname.Error
		if err == nil || !errors.Is(err, domainname.ErrInvalid) || !errors.As(err, &de) || de.Part != "host" {
			t.Errorf("Host(%q) = %q, %v; want an *Error for the host", c.in, got, err)
			continue
		}
		if !strings.Contains(err.Error(), c.rule) {
			t.Errorf("Host(%q): %q does not say %q", c.in, err, c.rule)
		}
	}
}

func TestFolder(t *testing.T) {
	for _, f := range []string{"", "shop", "a-b_c.d~e", "Shop2", ".well"} {
		if err := domainname.Folder(f); err != nil {
			t.Errorf("Folder(%q) = %v", f, err)
		}
	}
	for _, c := range []struct{ in, rule string }{
		{".", "relative path segment"},
		{"..", "relative path segment"},
		{"f o", `character ' ' at byte 1`},
		{"f?x", `character '?' at byte 1`},
		{"f#x", `character '#' at byte 1`},
		{"f%2Fx", `character '%' at byte 1`},
		{"f\x7f", "control character U+007F at byte 1"},
		{"f\n", "control character U+000A at byte 1"},
		{"a/b", "one path segment"},
		{"über", `character 'ü' at byte 0`},
		{"f\xff", "invalid UTF-8 at byte 1"},
	} {
		err := domainname.Folder(c.in)
		if err == nil || !errors.Is(err, domainname.ErrInvalid) || !strings.Contains(err.Error(), c.rule) {
			t.Errorf("Folder(%q) = %v; want a refusal that says %q", c.in, err, c.rule)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, host, folder string }{
		{"Shared.Example.test/globex", "shared.example.test", "globex"},
		{"acme.test", "acme.test", ""},
		{"ünicode.test/f", "xn--nicode-2ya.test", "f"},
	} {
		h, f, err := domainname.Parse(c.in)
		if err != nil || h != c.host || f != c.folder {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", c.in, h, f, err, c.host, c.folder)
		}
	}
	for _, c := range []struct{ in, rule string }{
		{"host/", "nothing after the '/'"},
		{"host/a/b", "one path segment"},
		{"https://host/x", "has a scheme"},
		{"host:80/x", "has a port"},
		{"/x", "host \"\": empty"},
		{"host/..", "relative path segment"},
	} {
		if _, _, err := domainname.Parse(c.in); err == nil || !strings.Contains(err.Error(), c.rule) {
			t.Errorf("Parse(%q) = %v; want a refusal that says %q", c.in, err, c.rule)
		}
	}
}

// longUnicodeLabel is a label of 70 different CJK characters, whose punycode is over 63 bytes.
func longUnicodeLabel() string {
	var b strings.Builder
	for r := rune(0x4e00); r < 0x4e00+70; r++ {
		b.WriteRune(r)
	}
	return b.String()
}
