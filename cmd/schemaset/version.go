package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo is what version prints: the module's version and the VCS revision the binary was
// built from, as the Go toolchain recorded them.
type versionInfo struct {
	// Module is the main module's path, and Version its version: "v0.4.0" when installed with
	// go install ...@v0.4.0, "(devel)" when built from a checkout.
	Module  string `json:"module"`
	Version string `json:"version"`
	// Revision, Time and Modified come from the VCS stamp of a build in a checkout (go build
	// -buildvcs, the default); they are empty for go install ...@version, whose version says it all.
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// readVersion reads the build info of the running binary.
func readVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return newVersionInfo(bi)
}

// newVersionInfo reads bi, nil when the binary has none.
func newVersionInfo(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: "(unknown)", Go: runtime.Version()}
	if bi == nil {
		return v
	}
	v.Module, v.Version, v.Go = bi.Main.Path, bi.Main.Version, bi.GoVersion
	if v.Version == "" {
		v.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one line of version: "schemaset v0.4.0 (github.com/pgschemas/pgschemas, revision
// 0123abcd..., 2026-12-05T06:00:00Z, modified; go1.25.0)".
func (v versionInfo) String() string {
	parts := []string{v.Module}
	if v.Revision != "" {
		parts = append(parts, "revision "+v.Revision)
	}
	if v.Time != "" {
		parts = append(parts, v.Time)
	}
	if v.Modified {
		parts = append(parts, "modified")
	}
	return fmt.Sprintf("schemaset %s (%s; %s)", v.Version, strings.Join(parts, ", "), v.Go)
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the VCS revision the binary was built from",
		Long: `version prints the module version of schemaset (v0.4.0 when installed with go install ...@v0.4.0,
(devel) when built from a checkout), the VCS revision and time the binary was built from, whether the
checkout had uncommitted changes, and the Go version. --version prints the same.`,
		Example: `  schemaset version
  schemaset --version
  schemaset version --json`,
		Args: cobra.NoArgs,
		RunE: runE(func(_ context.Context, _ []string) error { return a.runVersion() }),
	}
}

func (a *app) runVersion() error {
	v := readVersion()
	return a.emit(v, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, v)
		return err
	})
}
