package apps

import (
	"errors"
	"testing"
	"testing/fstest"
)

// The seed corpus of each target is in testdata/fuzz/<target>.

// FuzzLoad checks that an apps root of one app with one fuzzed file (an HCL file, an SQL file or
// a step, as kind says) either loads into a registry that holds the file as it was read, or is
// refused with an *Error that wraps ErrInvalidApp; it must never panic. It does not touch a
// database: Load checks the HCL and the SQL text only.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		name := [...]string{"app/f.hcl", "app/f.sql", "app/steps/0001_s.sql"}[kind%3]
		fsys := fstest.MapFS{"root/" + name: {Data: data}}
		if kind%3 == 2 { // an app with only a step declares nothing; give it a declaration
			fsys["root/app/t.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE t (id int);")}
		}
		r, err := Load(fsys, "root")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalidApp) {
				t.Fatalf("kind %d, %q: error %T %v is not an *Error that wraps ErrInvalidApp", kind%3, data, err, err)
			}
			if r != nil {
				t.Fatalf("kind %d, %q: a registry with an error", kind%3, data)
			}
			return
		}
		a, ok := r.App("app")
		if !ok || len(r.Names()) != 1 {
			t.Fatalf("kind %d, %q: loaded %v", kind%3, data, r.Names())
		}
		var got string
		switch kind % 3 {
		case 2:
			if len(a.Steps) != 1 || a.Steps[0].Name != "0001_s" {
				t.Fatalf("%q: steps %+v", data, a.Steps)
			}
			got = a.Steps[0].SQL
		default:
			if len(a.Files) != 1 || a.Files[0].Path != name {
				t.Fatalf("kind %d, %q: files %+v", kind%3, data, a.Files)
			}
			got = string(a.Files[0].Data)
		}
		if got != string(data) {
			t.Fatalf("kind %d: read %q, loaded %q", kind%3, data, got)
		}
		// A loaded app passes NewRegistry's checks again as it is.
		if _, err := NewRegistry(a); err != nil {
			t.Fatalf("kind %d, %q: loaded, but NewRegistry: %v", kind%3, data, err)
		}
	})
}
