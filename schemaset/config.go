package schemaset

import (
	"errors"
	"github.com/pgschemas/pgschemas/internal/routing"
	"path"
	"strconv"

	"github.com/hashicorp/hcl/v2"
)

// Config is the content of pgschemas.hcl: which apps go into public, into each static tenant and into
// the dynamic tenants. The zero value is a set with an empty public and nothing else. A Config built
// in Go is checked by Validate, exactly as a loaded file is.
//
// A Config that ParseConfig or LoadConfig returns also remembers, in an unexported field, where each
// value stood in the file, so that Validate can report file positions: compare such Configs field by
// field rather than with reflect.DeepEqual.
type Config struct {
	// AppsDir is the folder that holds one sub-folder per app, relative to the config file (or to
	// the root of the fs.FS the config was loaded from). Empty means "apps". It must stay inside the
	// config's folder: no leading "/" and no "..".
	AppsDir string
	// ExtraSearchPaths are schemas appended after public in every search path, for example a
	// schema that holds extensions. They are handed to the driver.
	ExtraSearchPaths []string
	// Strict turns on strict isolation (strict = true): the engine gives each tenant schema its own
	// role, driver.TenantRole(schema), creates and drops it with the tenant, keeps its grants on
	// apply, and grants it to StrictLoginRole; the driver then runs each tenant's statements as that
	// role (DriverConfig sets driver.Config.Strict). See roles.go and the driver's Strict mode.
	Strict bool
	// StrictLoginRole (strict_login_role) is the login role of the application, which must be
	// allowed to SET ROLE to every tenant role: the engine grants it each one. Required with
	// Strict, refused without it.
	StrictLoginRole string
	// Public lists the apps whose tables live in public and are shared by every tenant.
	Public Public
	// Static lists the static tenants, in the order of the file.
	Static []Static
	// Dynamic, when not nil, declares the dynamic tenants. Without it the set is static-only.
	Dynamic *Dynamic

	// File is the path the config was loaded from, inside the fs.FS given to LoadConfig (the base
	// name for LoadConfigFile, the filename for ParseConfig); empty for a Config built in Go. AppsRoot
	// is relative to its folder.
	File string

	// pos maps the key of a field (see field) to where its value stood in the source.
	pos map[string]srcPos
	// shownAs names File in messages when they differ (LoadConfigFile: the path it was given).
	shownAs string
}

// Public is the public block.
type Public struct {
	Apps []string
}

// Static is one static "name" block: a tenant named in the config, with its own schema.
type Static struct {
	Name string
	Apps []string
	// Domains are the host names that route to this tenant: host names only, without scheme,
	// port or path; compared, and routed, in their stored form: lower case, an internationalized
	// name in punycode, without a trailing dot (internal/domainname states the rules).
	Domains []string
	// FallbackDomains route to this tenant when no other tenant claims the host. A host is claimed
	// once across every static block's Domains and FallbackDomains.
	FallbackDomains []string
}

// Dynamic is the dynamic block: the apps of every dynamic tenant, and the reference schema that
// takes the same apps and is cloned to create new tenants fast.
type Dynamic struct {
	Apps []string
	// CloneReference names the reference schema; empty means no reference.
	CloneReference string
	// Pool is how many pre-cloned schemas of the reference (pgschemas_pool_<n>) the engine keeps
	// ready, so that CreateTenant can claim one by renaming it instead of cloning (see FillPool).
	// Zero keeps none. It must not be negative, and needs CloneReference.
	Pool int
}

// defaultAppsDir is the apps folder of a Config whose AppsDir is empty.
const defaultAppsDir = "apps"

// AppsRoot returns the apps folder relative to the root of the fs.FS the config was loaded from:
// AppsDir (or "apps") joined to the folder of File. For a Config built in Go it is AppsDir or "apps".
func (c *Config) AppsRoot() string {
	dir := c.AppsDir
	if dir == "" {
		dir = defaultAppsDir
	}
	return path.Join(path.Dir(c.File), dir)
}

// Reference returns the name of the reference schema, or "" when there is none (no dynamic block, or
// no clone_reference in it).
func (c *Config) Reference() string {
	if c.Dynamic == nil {
		return ""
	}
	return c.Dynamic.CloneReference
}

// srcPos is where a value stood in the source, and the value itself: a position is used in a message
// only while the Config still holds that value there.
type srcPos struct {
	rng hcl.Range
	val string
}

// field names one value of a Config: key finds its position in Config.pos ("static[1].apps[0]"), and
// label names it in messages (`static "www": apps[0]`).
type field struct{ key, label string }

var (
	publicField  = field{"public", "public"}
	dynamicField = field{"dynamic", "dynamic"}
)

// staticField is the field of the i-th static block, named name.
func staticField(i int, name string) field {
	return field{key: "static[" + strconv.Itoa(i) + "]", label: "static " + strconv.Quote(name)}
}

// child is the attribute name of f; on the zero field (the top level) it is the attribute itself.
func (f field) child(name string) field {
	if f.key == "" {
		return field{name, name}
	}
	return field{f.key + "." + name, f.label + ": " + name}
}

// index is the i-th element of the list f.
func (f field) index(i int) field {
	s := "[" + strconv.Itoa(i) + "]"
	return field{f.key + s, f.label + s}
}

// Routing returns what a router (resolve.New) reads of c, after checking it with Validate: the
// static tenants with their domains, the reference's name, and whether dynamic tenants exist.
func (c *Config) Routing() (routing.Config, error) {
	if c == nil {
		return routing.Config{}, errors.New("nil config")
	}
	if err := c.Validate(nil); err != nil {
		return routing.Config{}, err
	}
	r := routing.Config{Dynamic: c.Dynamic != nil}
	if c.Dynamic != nil {
		r.Reference = c.Dynamic.CloneReference
	}
	for _, s := range c.Static {
		r.Static = append(r.Static, routing.Static{Name: s.Name, Domains: s.Domains, FallbackDomains: s.FallbackDomains})
	}
	return r, nil
}
