package schemaset

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/domainname"
)

// Sentinel errors of a config. ParseConfig, LoadConfig and Validate return a *ConfigError whose
// problems wrap them, so test with errors.Is.
var (
	// ErrInvalidConfig: the file is not valid HCL, has an unknown block or attribute, a value of the
	// wrong type, a second public or dynamic block, a static block without exactly one name, an
	// app listed twice in one block, or an apps_dir that leaves the config's folder.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrInvalidName: a schema name (a static name, clone_reference, an extra_search_paths entry),
	// an app name or a domain is malformed. For a schema name the problem also wraps
	// driver.ErrInvalidSchemaName when the driver would refuse it.
	ErrInvalidName = errors.New("invalid name")
	// ErrNameClash: two schemas of the config have the same name, ignoring case: two static
	// tenants, a static tenant and public, the reference and a static tenant, or the reference and
	// public.
	ErrNameClash = errors.New("name clash")
	// ErrUnknownApp: a block lists an app that has no folder in the apps folder, or the apps folder
	// itself is missing.
	ErrUnknownApp = errors.New("unknown app")
	// ErrDuplicateDomain: two entries of the static blocks' domains and fallback_domains name the
	// same host, ignoring case and a trailing dot.
	ErrDuplicateDomain = errors.New("duplicate domain")
	// ErrSearchPathOverlap: an extra_search_paths entry names public, a static tenant, the reference,
	// or another entry, ignoring case.
	ErrSearchPathOverlap = errors.New("extra search path overlaps a schema")
)

// Problem is one thing wrong in a config.
type Problem struct {
	// File, Line and Column locate the value, when the config came from a source; Line is 0
	// otherwise (a Config built in Go), and then Message names the field, as `static "www": apps[1]`.
	File         string
	Line, Column int
	// Message says what is wrong, starting with the field it is about.
	Message string
	// Err wraps one of the sentinel errors, and the cause when there is one (an *hcl.Diagnostic,
	// or the driver's schema name error).
	Err error
}

// Error returns "file:line,column: message", leaving out what is unknown.
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":")
		}
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d,%d", p.Line, p.Column)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

func (p Problem) Unwrap() error { return p.Err }

// ConfigError lists every problem found in a config, in the order of the file.
type ConfigError struct {
	Problems []Problem
}

// Error lists the problems, one a line.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.Is and errors.As see each one.
func (e *ConfigError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// configError returns nil without problems, else a *ConfigError with them sorted by position
// (problems without one first, in the order they were found).
func configError(probs []Problem) error {
	if len(probs) == 0 {
		return nil
	}
	slices.SortStableFunc(probs, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &ConfigError{Problems: probs}
}

// Validate checks c, whether loaded or built in Go, and returns a *ConfigError that lists every
// problem, or nil. appExists reports whether an app's folder exists; nil skips that check. Validate
// does not change c.
func (c *Config) Validate(appExists func(name string) bool) error {
	return configError(c.check(appExists, nil))
}

// checker collects the problems of one Config.
type checker struct {
	c     *Config
	probs []Problem
	// appExists reports whether an app exists; nil skips the check. appsRoot, when not empty, is the
	// folder it looks in, for messages.
	appExists func(string) bool
	appsRoot  string
	// names holds the schema names taken so far, and domains the hosts, by their folded form.
	names   map[string]owner
	domains map[string]owner
}

// owner is who took a name or a domain: the name as written, and how messages call its owner.
type owner struct{ name, desc string }

// check returns the problems of c. With fsys, an app exists when it is a folder in c.AppsRoot() of
// fsys, and appExists is ignored.
func (c *Config) check(appExists func(string) bool, fsys fs.FS) []Problem {
	v := &checker{c: c, appExists: appExists, names: map[string]owner{}, domains: map[string]owner{}}
	if v.appsDir() && fsys != nil {
		v.appsIn(fsys)
	}
	v.apps(publicField.child("apps"), c.Public.Apps)
	for i, s := range c.Static {
		f := staticField(i, s.Name)
		v.schemaName(f, s.Name, "name", "clashes with", ErrNameClash, f.label)
		v.apps(f.child("apps"), s.Apps)
		v.domainList(f, "domains", s.Domains)
		v.domainList(f, "fallback_domains", s.FallbackDomains)
	}
	if d := c.Dynamic; d != nil {
		if d.CloneReference != "" {
			f := dynamicField.child("clone_reference")
			v.schemaName(f, d.CloneReference, strconv.Quote(d.CloneReference), "clashes with", ErrNameClash,
				"the reference "+strconv.Quote(d.CloneReference))
		}
		v.apps(dynamicField.child("apps"), d.Apps)
		v.pool(d)
	}
	v.strict()
	paths := field{}.child("extra_search_paths")
	for i, name := range c.ExtraSearchPaths {
		f := paths.index(i)
		v.schemaName(f, name, strconv.Quote(name), "overlaps", ErrSearchPathOverlap, f.label+" "+strconv.Quote(name))
	}
	return v.probs
}

// pool checks the dynamic block's pool size: zero or more, and more only with a reference, which
// is what pooled schemas are cloned from.
func (v *checker) pool(d *Dynamic) {
	f := dynamicField.child("pool")
	switch {
	case d.Pool < 0:
		v.add(f, strconv.Itoa(d.Pool), ErrInvalidConfig, "must be zero (no pool) or more, not %d", d.Pool)
	case d.Pool > 0 && d.CloneReference == "":
		v.add(f, strconv.Itoa(d.Pool), ErrInvalidConfig, "%d needs clone_reference: pooled schemas are clones of the reference", d.Pool)
	}
}

// add reports a problem with the value val of f, at its position when c still holds the value that
// was read there.
func (v *checker) add(f field, val string, err error, format string, args ...any) {
	p := Problem{
		File:    cmp.Or(v.c.shownAs, v.c.File),
		Message: f.label + ": " + fmt.Sprintf(format, args...),
		Err:     err,
	}
	if sp, ok := v.c.pos[f.key]; ok && sp.val == val {
		p.File, p.Line, p.Column = sp.rng.Filename, sp.rng.Start.Line, sp.rng.Start.Column
	}
	v.probs = append(v.probs, p)
}

// appsDir checks AppsDir and reports whether it is usable.
func (v *checker) appsDir() bool {
	dir := v.c.AppsDir
	why := ""
	switch clean := path.Clean(dir); {
	case dir == "":
		return true
	case strings.HasPrefix(dir, "/") || strings.Contains(dir, `\`):
		why = "must be a relative path with / separators"
	case clean == ".." || strings.HasPrefix(clean, "../"):
		why = "must stay inside the config's folder"
	default:
		return true
	}
	v.add(field{}.child("apps_dir"), dir, ErrInvalidConfig, "%q %s", dir, why)
	return false
}

// appsIn makes apps exist when they are folders of the apps folder in fsys, and reports a missing
// apps folder once (instead of every app).
func (v *checker) appsIn(fsys fs.FS) {
	root := v.c.AppsRoot()
	if fi, err := fs.Stat(fsys, root); err != nil || !fi.IsDir() {
		v.add(field{}.child("apps_dir"), v.c.AppsDir, ErrUnknownApp, "the apps folder %s does not exist", root)
		v.appExists = nil
		return
	}
	v.appsRoot = root
	v.appExists = func(app string) bool {
		fi, err := fs.Stat(fsys, path.Join(root, app))
		return err == nil && fi.IsDir()
	}
}

// apps checks the list of apps f: each a folder name, listed once, that exists.
func (v *checker) apps(f field, apps []string) {
	for i, app := range apps {
		fi := f.index(i)
		switch {
		case app == "" || app == "." || app == ".." || strings.ContainsAny(app, `/\`):
			v.add(fi, app, ErrInvalidName, "app %q must be the name of one folder", app)
		case slices.Contains(apps[:i], app):
			v.add(fi, app, ErrInvalidConfig, "app %q is listed twice", app)
		case v.appExists != nil && !v.appExists(app):
			if v.appsRoot != "" {
				v.add(fi, app, ErrUnknownApp, "app %q does not exist: no folder %s", app, path.Join(v.appsRoot, app))
			} else {
				v.add(fi, app, ErrUnknownApp, "app %q does not exist", app)
			}
		}
	}
}

// schemaName checks the schema name of f and takes it. what is how the message calls the name,
// verb how it relates to a name taken before, clash the sentinel of that, and desc how later
// messages call this owner.
func (v *checker) schemaName(f field, name, what, verb string, clash error, desc string) {
	folded := strings.ToLower(name)
	if folded == "public" {
		v.add(f, name, clash, "%s %s public%s", what, verb, caseNote(name, "public"))
		return
	}
	if err := checkSchemaName(name); err != nil {
		v.add(f, name, fmt.Errorf("%w: %w", ErrInvalidName, err), "%v", err)
		return
	}
	prev, taken := v.names[folded]
	switch {
	case !taken:
		v.names[folded] = owner{name, desc}
	case prev.desc == desc:
		v.add(f, name, clash, "%s is declared twice", what)
	default:
		v.add(f, name, clash, "%s %s %s%s", what, verb, prev.desc, caseNote(name, prev.name))
	}
}

// caseNote explains why name and other, which fold to the same, are said to clash.
func caseNote(name, other string) string {
	if name == other {
		return ""
	}
	return " (names are compared ignoring case)"
}

// checkSchemaName is driver.CheckSchemaName, which also refuses the names that start with
// ReservedPrefix.
func checkSchemaName(name string) error {
	if err := driver.CheckSchemaName(name); err != nil {
		return err
	}
	if len(name) >= len(ReservedPrefix) && strings.EqualFold(name[:len(ReservedPrefix)], ReservedPrefix) {
		return fmt.Errorf("invalid schema name %q: names starting with %s are reserved by pgschemas", name, ReservedPrefix)
	}
	return nil
}

// domainList checks the domains of the attribute attr of static block f, and claims them.
func (v *checker) domainList(f field, attr string, domains []string) {
	list := f.child(attr)
	for i, d := range domains {
		fi := list.index(i)
		host, err := domainname.Host(d)
		var de *domainname.Error
		if errors.As(err, &de) {
			v.add(fi, d, ErrInvalidName, "domain %q: %s", d, de.Rule)
			continue
		}
		if prev, taken := v.domains[host]; taken {
			v.add(fi, d, ErrDuplicateDomain, "domain %q is already claimed by %s%s", d, prev.desc, domainNote(d, prev.name))
			continue
		}
		v.domains[host] = owner{d, f.label + " (" + attr + "[" + strconv.Itoa(i) + "])"}
	}
}

// domainNote explains why domains d and other, written differently, are the same.
func domainNote(d, other string) string {
	if d == other {
		return ""
	}
	return fmt.Sprintf(" as %q (domains are compared in their stored form: lower case, punycode, without a trailing dot)", other)
}
