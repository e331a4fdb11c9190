package schemaset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/apps"
	"github.com/pgschemas/pgschemas/driver"
)

// Kind says what a schema is to the set.
type Kind string

const (
	// KindPublic is public: shared by every tenant and never routed.
	KindPublic Kind = "public"
	// KindStatic is a static tenant, named in the config.
	KindStatic Kind = "static"
	// KindReference is the reference schema: it takes the dynamic tenants' apps, is cloned to create
	// tenants, and is never routed.
	KindReference Kind = "reference"
	// KindDynamic is a dynamic tenant: one row of pgschemas_tenant.
	KindDynamic Kind = "dynamic"
)

// Target is one schema the engine works on.
type Target struct {
	Schema string `json:"schema"`
	Kind   Kind   `json:"kind"`
}

// engineVersion changes when the way desired state is computed changes, so that every recorded
// fingerprint becomes stale and the next apply inspects each schema again.
const engineVersion = "pgschemas-engine-1"

// Set is a validated config together with the apps it names: everything the engine needs to know
// about the desired state, and nothing about the database.
type Set struct {
	Config *Config
	Apps   *apps.Registry

	// fingerprints holds Fingerprint per desired-state group, computed once by NewSet: a run
	// asks for it once or more per tenant, and it hashes every file of the group's apps.
	fingerprints map[string]string
}

// Load reads the config at path in fsys and the apps in its apps folder, and validates both. A
// service can embed its config and apps with embed.FS and call Load on it.
func Load(fsys fs.FS, path string) (*Set, error) {
	cfg, err := LoadConfig(fsys, path)
	if err != nil {
		return nil, err
	}
	reg, err := apps.Load(fsys, cfg.AppsRoot())
	if err != nil {
		return nil, err
	}
	return NewSet(cfg, reg)
}

// LoadFile is Load on the operating system's file system; messages name the config by path.
func LoadFile(path string) (*Set, error) {
	cfg, err := LoadConfigFile(path)
	if err != nil {
		return nil, err
	}
	reg, err := apps.Load(os.DirFS(filepath.Dir(path)), cfg.AppsRoot())
	if err != nil {
		return nil, err
	}
	return NewSet(cfg, reg)
}

// NewSet checks cfg against the apps in reg and returns the set.
func NewSet(cfg *Config, reg *apps.Registry) (*Set, error) {
	if err := cfg.Validate(func(name string) bool { _, ok := reg.App(name); return ok }); err != nil {
		return nil, err
	}
	set := &Set{Config: cfg, Apps: reg}
	fps := map[string]string{}
	for _, t := range append(set.StaticTargets(), Target{Kind: KindDynamic}) {
		fps[desiredKey(t)] = set.fingerprint(t)
	}
	set.fingerprints = fps
	return set, nil
}

// AppsOf returns the app names of a kind of schema; for KindStatic, of the static tenant name.
func (s *Set) AppsOf(t Target) []string {
	switch t.Kind {
	case KindPublic:
		return s.Config.Public.Apps
	case KindStatic:
		if st := s.static(t.Schema); st != nil {
			return st.Apps
		}
	case KindReference, KindDynamic:
		if s.Config.Dynamic != nil {
			return s.Config.Dynamic.Apps
		}
	}
	return nil
}

func (s *Set) static(name string) *Static {
	for i := range s.Config.Static {
		if s.Config.Static[i].Name == name {
			return &s.Config.Static[i]
		}
	}
	return nil
}

// desiredKey names the desired state a target shares with others: every dynamic tenant and the
// reference share one, each static tenant has its own.
func desiredKey(t Target) string {
	switch t.Kind {
	case KindStatic:
		return "static:" + t.Schema
	case KindReference, KindDynamic:
		return "dynamic"
	}
	return string(t.Kind)
}

// Fingerprint identifies the desired state of a target: its apps' names, files and steps, in
// order, and the engine version. A schema whose recorded fingerprint equals it needs no inspection.
func (s *Set) Fingerprint(t Target) string {
	if fp, ok := s.fingerprints[desiredKey(t)]; ok {
		return fp
	}
	return s.fingerprint(t)
}

func (s *Set) fingerprint(t Target) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", engineVersion, desiredKey(t))
	fmt.Fprintf(h, "search_path %s\n", strings.Join(s.Config.ExtraSearchPaths, ","))
	for _, name := range s.AppsOf(t) {
		a, _ := s.Apps.App(name)
		fmt.Fprintf(h, "app %s %s\n", name, a.Fingerprint())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StaticTargets returns public, the static tenants and the reference, in apply order.
func (s *Set) StaticTargets() []Target {
	out := []Target{{Schema: "public", Kind: KindPublic}}
	for _, st := range s.Config.Static {
		out = append(out, Target{Schema: st.Name, Kind: KindStatic})
	}
	if ref := s.Config.Reference(); ref != "" {
		out = append(out, Target{Schema: ref, Kind: KindReference})
	}
	return out
}

// KindOf says what a schema name is to this set, ignoring case for the config's names as the
// clash rules do; ok is false for a name that is none of public, a static tenant or the reference.
func (s *Set) KindOf(name string) (Target, bool) {
	for _, t := range s.StaticTargets() {
		if strings.EqualFold(t.Schema, name) {
			return t, true
		}
	}
	return Target{}, false
}

// DriverConfig returns the pgschemas driver configuration for this set: the connection cc, the
// config's extra search paths, and strict mode when the config has strict = true (cc must then log
// in as strict_login_role). Open the service's pool with driver.OpenDB(set.DriverConfig(cc)) so
// that every tenant's search path is the one the engine applied against.
func (s *Set) DriverConfig(cc *pgx.ConnConfig) driver.Config {
	return driver.Config{ConnConfig: cc, ExtraSearchPaths: slices.Clone(s.Config.ExtraSearchPaths), Strict: s.Config.Strict}
}
