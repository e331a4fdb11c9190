package resolve

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// The seed corpus of each target is in testdata/fuzz/<target>.

// FuzzNormalizeHost checks that any Host value either is refused with ErrMalformedHost or gives a
// lookup form that is lower case, without port or trailing dot, within DNS limits, and a fixed
// point: normalizing it again, or with a port added, gives the same.
func FuzzNormalizeHost(f *testing.F) {
	f.Fuzz(func(t *testing.T, host string, stripWWW bool) {
		var buf hostBuf
		b, err := normalizeHost(host, stripWWW, &buf)
		if err != nil {
			if !errors.Is(err, ErrMalformedHost) {
				t.Fatalf("%q: error %v does not wrap ErrMalformedHost", host, err)
			}
			return
		}
		got := string(b)
		if got == "" || len(got) > maxHostLen || strings.ToLower(got) != got || strings.HasSuffix(got, ".") {
			t.Fatalf("%q gives %q", host, got)
		}
		if got[0] != '[' && strings.Contains(got, ":") {
			t.Fatalf("%q gives %q, with a port", host, got)
		}
		var buf2 hostBuf
		for _, again := range []string{got, got + ":443", strings.ToUpper(got) + "."} {
			if got[0] == '[' && strings.HasSuffix(again, ".") {
				continue
			}
			b2, err := normalizeHost(again, false, &buf2)
			if err != nil || string(b2) != got {
				t.Fatalf("%q gives %q, then %q gives %q, %v", host, got, again, b2, err)
			}
		}
	})
}

// FuzzSplitFolder checks that a path either has no folder and is returned whole, or splits into a
// folder that is one decoded segment and the rest of the path that follows that segment.
func FuzzSplitFolder(f *testing.F) {
	f.Fuzz(func(t *testing.T, path string) {
		folder, rest, ok := splitFolder(path)
		if !ok {
			if folder != "" || rest != path {
				t.Fatalf("%q: no folder, but %q, %q", path, folder, rest)
			}
			return
		}
		if folder == "" || folder == "." || folder == ".." || strings.Contains(folder, "/") {
			t.Fatalf("%q: folder %q", path, folder)
		}
		if !strings.HasPrefix(rest, "/") || !strings.HasSuffix(path, strings.TrimPrefix(rest, "/")) && rest != "/" {
			t.Fatalf("%q: rest %q", path, rest)
		}
		seg := strings.TrimPrefix(path, "/")
		seg, _, _ = strings.Cut(seg, "/")
		if dec, err := url.PathUnescape(seg); err != nil || dec != folder {
			t.Fatalf("%q: folder %q, but the first segment %q decodes to %q, %v", path, folder, seg, dec, err)
		}
		if want := path[1+len(seg):]; rest != want && !(want == "" && rest == "/") {
			t.Fatalf("%q: rest %q, want %q", path, rest, want)
		}
	})
}
