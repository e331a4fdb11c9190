package pgtest_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// TestWithParams checks, through pgx's own parser, that added pairs take effect in both forms and
// override what the connection string had.
func TestWithParams(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u@h:5432/d",
		"postgres://u@h:5432/d?sslmode=disable&application_name=old",
		"host=h port=5432 user=u dbname=d application_name=old",
		"",
	} {
		got := pgtest.WithParams(dsn, "application_name", "it's a test&=", "dbname", "other", "search_path", "a")
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Fatalf("WithParams(%q) = %q: %v", dsn, got, err)
		}
		if cfg.RuntimeParams["application_name"] != "it's a test&=" || cfg.Database != "other" || cfg.RuntimeParams["search_path"] != "a" {
			t.Errorf("WithParams(%q) = %q: parsed as application_name %q, database %q, search_path %q",
				dsn, got, cfg.RuntimeParams["application_name"], cfg.Database, cfg.RuntimeParams["search_path"])
		}
	}
}
