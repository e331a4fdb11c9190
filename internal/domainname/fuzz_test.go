package domainname_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/internal/domainname"
)

// FuzzHost: a host is accepted in its stored form, which is a fixed point and holds DNS labels
// only, or refused with an *Error.
func FuzzHost(f *testing.F) {
	for _, s := range []string{"acme.example.test", "ÜNICODE.test.", "xn--nicode-2ya.test", "a..b", "*.x", "host\n", "ß.test", "a\u200db"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := domainname.Host(s)
		if err != nil {
			var de *domainname.Error
			if !errors.As(err, &de) || !errors.Is(err, domainname.ErrInvalid) || de.Rule == "" {
				t.Fatalf("Host(%q): %v is not an *Error with a rule", s, err)
			}
			return
		}
		if again, err := domainname.Host(h); err != nil || again != h {
			t.Fatalf("Host(%q) = %q, but Host(%q) = %q, %v", s, h, h, again, err)
		}
		if len(h) > domainname.MaxHostLen {
			t.Fatalf("Host(%q) = %q, %d bytes", s, h, len(h))
		}
		for _, label := range strings.Split(h, ".") {
			if label == "" || len(label) > domainname.MaxLabelLen || label[0] == '-' || label[len(label)-1] == '-' ||
				strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				t.Fatalf("Host(%q) = %q, with the label %q", s, h, label)
			}
		}
	})
}
