package driver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DSN parameters that pgschemas reads. ParseConfig removes them before pgx connects, so the server
// never sees them.
const (
	// ParamExtraSearchPaths is a comma-separated list of schemas appended to every search path after
	// public, like django-pgschemas' PGSCHEMAS_EXTRA_SEARCH_PATHS: "pgschemas_extra_search_paths=ext,postgis".
	ParamExtraSearchPaths = "pgschemas_extra_search_paths"
)

// paramPrefix marks DSN parameters that belong to pgschemas; an unknown one is an error, not a typo
// sent to the server.
const paramPrefix = "pgschemas_"

// Config configures a Connector. The zero value is usable: it connects as the libpq environment
// (PGHOST, PGUSER, ...) says, with no extra search paths.
type Config struct {
	// ConnConfig configures each pgx connection: server, TLS, tracer, DefaultQueryExecMode and the
	// statement cache sizes. nil means pgx.ParseConfig(""). The Connector copies it.
	ConnConfig *pgx.ConnConfig

	// ExtraSearchPaths are schemas appended after public to every search path, for shared
	// extensions. Each must be a valid schema name other than public.
	ExtraSearchPaths []string
}

// ParseConfig parses a connection string that pgx accepts (URL or keyword/value form), and the
// pgschemas_ parameters in it (see ParamExtraSearchPaths). An unknown pgschemas_ parameter is an error.
func ParseConfig(dsn string) (Config, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return Config{}, fmt.Errorf("pgschemas: %w", err) // pgx redacts the password and keeps the cause
	}
	cfg := Config{ConnConfig: cc}
	// pgx hands unknown parameters to the server as run-time parameters; take ours out first.
	for key, value := range cc.RuntimeParams {
		if !strings.HasPrefix(key, paramPrefix) {
			continue
		}
		delete(cc.RuntimeParams, key)
		switch key {
		case ParamExtraSearchPaths:
			for _, s := range strings.Split(value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					cfg.ExtraSearchPaths = append(cfg.ExtraSearchPaths, s)
				}
			}
		default:
			return Config{}, fmt.Errorf("pgschemas: unknown DSN parameter %q (known: %s)", key, ParamExtraSearchPaths)
		}
	}
	if _, err := cfg.searchPaths(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// searchPaths checks the config and returns the search path tail shared by all schemas:
// `public, "ext1", "ext2"`.
func (cfg Config) searchPaths() (string, error) {
	var b strings.Builder
	b.WriteString("public")
	seen := map[string]bool{}
	for _, s := range cfg.ExtraSearchPaths {
		if err := CheckSchemaName(s); err != nil {
			return "", fmt.Errorf("pgschemas: extra search path: %w", err)
		}
		if seen[s] {
			return "", fmt.Errorf("pgschemas: extra search path %q: %w", s, errDuplicate)
		}
		seen[s] = true
		b.WriteString(`, "`)
		b.WriteString(s)
		b.WriteString(`"`)
	}
	return b.String(), nil
}

var errDuplicate = errors.New("listed twice")
