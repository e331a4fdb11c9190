package schemaset

import (
	"errors"
	"testing"
)

// The seed corpus of each target is in testdata/fuzz/<target>.

// FuzzParseConfig checks that any pgschemas.hcl source either parses into a Config that validates
// again without problems, or is refused with a *ConfigError whose problems each wrap a sentinel
// and carry a message; it must never panic.
func FuzzParseConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := ParseConfig(src, "pgschemas.hcl")
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("%q: error %T %v is not a *ConfigError with problems", src, err, err)
			}
			for _, p := range ce.Problems {
				if p.Message == "" || !isSentinel(p.Err) {
					t.Fatalf("%q: problem %+v has no message or wraps no sentinel", src, p)
				}
			}
			if c != nil {
				t.Fatalf("%q: a Config with an error", src)
			}
			return
		}
		if c == nil {
			t.Fatalf("%q: no Config and no error", src)
		}
		// What ParseConfig accepted, Validate(nil) accepts too: the two checks are one.
		if err := c.Validate(nil); err != nil {
			t.Fatalf("%q: parsed, but Validate: %v", src, err)
		}
		for _, s := range c.Static {
			if s.Name == "" {
				t.Fatalf("%q: a static tenant without a name", src)
			}
		}
	})
}

// isSentinel reports whether err wraps one of the config's sentinel errors.
func isSentinel(err error) bool {
	for _, s := range []error{ErrInvalidConfig, ErrInvalidName, ErrNameClash, ErrUnknownApp, ErrDuplicateDomain, ErrSearchPathOverlap} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
