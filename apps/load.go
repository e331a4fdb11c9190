package apps

import (
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

var (
	// appNameRE keeps app names usable as config words and in messages without quoting.
	appNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	// stepNameRE makes steps sort by their number.
	stepNameRE = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+$`)
)

// stepsDir is the folder of an app that holds its one-time steps.
const stepsDir = "steps"

// Registry holds apps by name. It is immutable once built, and safe for concurrent use.
type Registry struct {
	apps  map[string]*App
	names []string
}

// Load reads every sub-folder of dir in fsys as one app, named after the folder. An app folder
// holds *.hcl and *.sql declaration files and an optional steps/ folder of NNNN_name.sql steps;
// README* and *.md files are skipped anywhere. Any other file or folder is an error that names it,
// as are bad app or step names, HCL that does not parse (with its line) and HCL blocks or
// attributes that apps may not use. Every such error wraps ErrInvalidApp; all are reported.
func Load(fsys fs.FS, dir string) (*Registry, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var (
		list []*App
		errs []error
	)
	for _, e := range entries {
		switch {
		case e.IsDir():
			a, err := readApp(fsys, dir, e.Name())
			errs = append(errs, err)
			list = append(list, a)
		case !isDoc(e.Name()):
			errs = append(errs, invalid("", e.Name(), 0, "only app folders, README* and *.md files belong in the apps root"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return NewRegistry(list...)
}

// readApp reads the folder name of dir as an app.
func readApp(fsys fs.FS, dir, name string) (*App, error) {
	a := &App{Name: name}
	entries, err := fs.ReadDir(fsys, path.Join(dir, name))
	if err != nil {
		return a, &Error{App: name, Err: err}
	}
	var errs []error
	for _, e := range entries {
		rel := name + "/" + e.Name()
		switch kind := kindOf(e.Name()); {
		case e.IsDir() && e.Name() == stepsDir:
			steps, err := readSteps(fsys, dir, name)
			a.Steps = steps
			errs = append(errs, err)
		case e.IsDir():
			errs = append(errs, invalid(name, rel, 0, "an app folder holds only *.hcl, *.sql and a %s/ folder", stepsDir))
		case kind != 0:
			data, err := fs.ReadFile(fsys, path.Join(dir, rel))
			if err != nil {
				errs = append(errs, &Error{App: name, File: rel, Err: err})
			}
			a.Files = append(a.Files, File{Path: rel, Kind: kind, Data: data})
		case !isDoc(e.Name()):
			errs = append(errs, invalid(name, rel, 0, "an app folder holds only *.hcl, *.sql and a %s/ folder", stepsDir))
		}
	}
	return a, errors.Join(errs...)
}

// readSteps reads the steps/ folder of app.
func readSteps(fsys fs.FS, dir, app string) ([]Step, error) {
	entries, err := fs.ReadDir(fsys, path.Join(dir, app, stepsDir))
	if err != nil {
		return nil, &Error{App: app, Err: err}
	}
	var (
		steps []Step
		errs  []error
	)
	for _, e := range entries {
		rel := app + "/" + stepsDir + "/" + e.Name()
		switch {
		case !e.IsDir() && kindOf(e.Name()) == KindSQL:
			data, err := fs.ReadFile(fsys, path.Join(dir, rel))
			if err != nil {
				errs = append(errs, &Error{App: app, File: rel, Err: err})
			}
			steps = append(steps, Step{App: app, Name: strings.TrimSuffix(e.Name(), ".sql"), Path: rel, SQL: string(data)})
		case e.IsDir() || !isDoc(e.Name()):
			errs = append(errs, invalid(app, rel, 0, "the %s/ folder holds only NNNN_name.sql files", stepsDir))
		}
	}
	return steps, errors.Join(errs...)
}

// kindOf returns the Kind a file name's extension gives, or 0.
func kindOf(name string) Kind {
	switch path.Ext(name) {
	case ".hcl":
		return KindHCL
	case ".sql":
		return KindSQL
	}
	return 0
}

// isDoc reports whether a file is documentation, which Load skips.
func isDoc(name string) bool {
	return strings.HasPrefix(name, "README") || path.Ext(name) == ".md"
}

// NewRegistry builds a registry from apps built in Go (Load uses it too). It checks each app as
// Load does: names, file paths and kinds, step names, HCL and SQL; and it rejects two apps with
// one name. It keeps copies of the apps with their files sorted by path and steps by name, and
// does not modify list.
func NewRegistry(list ...*App) (*Registry, error) {
	r := &Registry{apps: make(map[string]*App, len(list))}
	var errs []error
	for _, a := range list {
		c, err := checkApp(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := r.apps[c.Name]; dup {
			errs = append(errs, invalid(c.Name, "", 0, "two apps named %q", c.Name))
			continue
		}
		r.apps[c.Name] = c
		r.names = append(r.names, c.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(r.names)
	return r, nil
}

// App returns the app with that name. The app is shared by every caller: treat it as read-only.
func (r *Registry) App(name string) (*App, bool) {
	a, ok := r.apps[name]
	return a, ok
}

// Names returns the names of the apps, sorted.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// checkApp checks a and returns a copy with its files and steps sorted.
func checkApp(a *App) (*App, error) {
	if a == nil {
		return nil, invalid("", "", 0, "nil app")
	}
	if !appNameRE.MatchString(a.Name) {
		return nil, invalid(a.Name, "", 0, "app name %q does not match %s", a.Name, appNameRE)
	}
	c := &App{Name: a.Name, Files: slices.Clone(a.Files), Steps: slices.Clone(a.Steps)}
	slices.SortFunc(c.Files, func(x, y File) int { return strings.Compare(x.Path, y.Path) })
	slices.SortFunc(c.Steps, func(x, y Step) int { return strings.Compare(x.Name, y.Name) })
	var errs []error
	if len(c.Files) == 0 {
		errs = append(errs, invalid(c.Name, "", 0, "the app declares nothing: it has no *.hcl or *.sql file"))
	}
	for i, f := range c.Files {
		if i > 0 && c.Files[i-1].Path == f.Path {
			errs = append(errs, invalid(c.Name, f.Path, 0, "two files with this path"))
		}
		errs = append(errs, checkFile(c.Name, f))
	}
	numbers := make(map[string]string) // step number -> step name
	for _, s := range c.Steps {
		if err := checkStep(c.Name, s); err != nil {
			errs = append(errs, err)
			continue
		}
		// Two steps with one number would run in an order that depends on their names' tails.
		if prev, taken := numbers[s.Name[:4]]; taken {
			errs = append(errs, invalid(c.Name, s.Path, 0, "step number %s is taken by step %q", s.Name[:4], prev))
		}
		numbers[s.Name[:4]] = s.Name
	}
	return c, errors.Join(errs...)
}

// checkFile checks a declaration file's path, kind and content.
func checkFile(app string, f File) error {
	switch {
	case path.Dir(f.Path) != app || path.Base(f.Path) != strings.TrimPrefix(f.Path, app+"/"):
		return invalid(app, f.Path, 0, "a file of app %q has a path %s/NAME.hcl or %s/NAME.sql", app, app, app)
	case f.Kind != kindOf(f.Path):
		return invalid(app, f.Path, 0, "kind %v does not match the file's extension", f.Kind)
	case f.Kind == KindHCL:
		_, err := parseHCL(app, f, nil)
		return err
	default:
		_, err := statements(app, f.Path, string(f.Data), false)
		return err
	}
}

// checkStep checks a step's owner, name and SQL.
func checkStep(app string, s Step) error {
	switch {
	case s.App != app:
		return invalid(app, s.Path, 0, "step %q belongs to app %q", s.Name, s.App)
	case !stepNameRE.MatchString(s.Name):
		return invalid(app, s.Path, 0, "step name %q does not match %s", s.Name, stepNameRE)
	}
	_, err := statements(app, s.Path, s.SQL, true)
	return err
}
