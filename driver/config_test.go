package driver_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/driver"
)

func TestParseConfigReadsAndStripsItsParameters(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u@h:5433/d?sslmode=disable&pgschemas_extra_search_paths=ext,%20postgis&application_name=x&pgschemas_pooler=transaction&pgschemas_max_statement_copies=7",
		"host=h port=5433 user=u dbname=d sslmode=disable pgschemas_extra_search_paths='ext, postgis' application_name=x pgschemas_pooler=transaction pgschemas_max_statement_copies=7",
	} {
		cfg, err := driver.ParseConfig(dsn)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		if want := []string{"ext", "postgis"}; !slices.Equal(cfg.ExtraSearchPaths, want) {
			t.Errorf("%s: ExtraSearchPaths = %q, want %q", dsn, cfg.ExtraSearchPaths, want)
		}
		if cfg.MaxStatementCopies != 7 {
			t.Errorf("%s: MaxStatementCopies = %d, want 7", dsn, cfg.MaxStatementCopies)
		}
		if cfg.Pooler != driver.PoolTransaction {
			t.Errorf("%s: Pooler = %q, want %q", dsn, cfg.Pooler, driver.PoolTransaction)
		}
		for key := range cfg.ConnConfig.RuntimeParams {
			if strings.HasPrefix(key, "pgschemas_") {
				t.Errorf("%s: the parameter %s would reach the server", dsn, key)
			}
		}
		if cfg.ConnConfig.RuntimeParams["application_name"] != "x" || cfg.ConnConfig.Host != "h" || cfg.ConnConfig.Port != 5433 {
			t.Errorf("%s: pgx's own settings were lost: %+v", dsn, cfg.ConnConfig)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		is   error
		says string
	}{
		{"postgres://h/d?pgschemas_extra_search_path=ext", nil, `unknown DSN parameter "pgschemas_extra_search_path"`},
		{"postgres://h/d?pgschemas_extra_search_paths=ok,bad-name", driver.ErrInvalidSchemaName, `"bad-name"`},
		{"postgres://h/d?pgschemas_extra_search_paths=public", driver.ErrInvalidSchemaName, "public"},
		{"postgres://h/d?pgschemas_extra_search_paths=ext,ext", nil, `"ext": listed twice`},
		{"postgres://h:notaport/d", nil, "invalid port"},
		{"postgres://h/d?pgschemas_pooler=statement", nil, `pooler "statement": want "session" or "transaction"`},
		{"postgres://h/d?pgschemas_pooler=", nil, ""}, // empty: the default, session
		{"postgres://h/d?pgschemas_poolr=transaction", nil, `unknown DSN parameter "pgschemas_poolr" (known: pgschemas_extra_search_paths, pgschemas_pooler, pgschemas_strict, pgschemas_require_tenant, pgschemas_max_tenants_per_conn, pgschemas_max_statement_copies)`},
		{"postgres://h/d?pgschemas_max_statement_copies=some", nil, `pgschemas_max_statement_copies="some": want a whole number`},
	} {
		_, err := driver.ParseConfig(tc.dsn)
		if tc.says == "" {
			if err != nil {
				t.Errorf("ParseConfig(%q) = %v, want no error", tc.dsn, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.says) || tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("ParseConfig(%q) = %v, want an error saying %q", tc.dsn, err, tc.says)
		}
	}
	if _, err := driver.NewConnector(driver.Config{ExtraSearchPaths: []string{"x;y"}}); !errors.Is(err, driver.ErrInvalidSchemaName) {
		t.Errorf("NewConnector with an invalid extra path: %v, want ErrInvalidSchemaName", err)
	}
	cc, err := pgx.ParseConfig("postgres://h/d?pgschemas_extra_search_paths=ext")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := driver.NewConnector(driver.Config{ConnConfig: cc}); err == nil || !strings.Contains(err.Error(), "driver.ParseConfig") {
		t.Errorf("NewConnector with a pgschemas parameter left in pgx's config: %v, want an error naming driver.ParseConfig", err)
	}
	if _, err := driver.NewConnector(driver.Config{Pooler: "Transaction"}); err == nil || !strings.Contains(err.Error(), `pooler "Transaction"`) {
		t.Errorf("NewConnector with Pooler %q: %v, want an error naming it", "Transaction", err)
	}
	if _, err := driver.NewConnector(driver.Config{}); err != nil {
		t.Errorf("the zero Config: %v, want a connector for the libpq environment", err)
	}
}
