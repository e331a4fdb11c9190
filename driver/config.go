package driver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

// DSN parameters that pgschemas reads. ParseConfig removes them before pgx connects, so the server
// never sees them.
const (
	// ParamExtraSearchPaths is a comma-separated list of schemas appended to every search path after
	// public, like django-pgschemas' PGSCHEMAS_EXTRA_SEARCH_PATHS: "pgschemas_extra_search_paths=ext,postgis".
	ParamExtraSearchPaths = "pgschemas_extra_search_paths"

	// ParamPooler sets Config.Pooler: "pgschemas_pooler=transaction" behind a pooler in transaction
	// mode (PgBouncer's pool_mode=transaction, RDS Proxy, ...), "session" (the default) otherwise.
	ParamPooler = "pgschemas_pooler"

	// ParamStrict sets Config.Strict: "pgschemas_strict=on" (or true, 1), "off" (or false, 0; the
	// default).
	ParamStrict = "pgschemas_strict"
	// ParamRequireTenant sets Config.RequireTenant: "pgschemas_require_tenant=on" (or true, 1),
	// "off" (or false, 0; the default).
	ParamRequireTenant = "pgschemas_require_tenant"
	// ParamMaxTenantsPerConn sets Config.MaxTenantsPerConn: a whole number, 0 for no limit.
	ParamMaxTenantsPerConn = "pgschemas_max_tenants_per_conn"
	// ParamMaxStatementCopies sets Config.MaxStatementCopies: a whole number, 0 for the default,
	// -1 for none.
	ParamMaxStatementCopies = "pgschemas_max_statement_copies"
)

// DefaultMaxTenantsPerConn is the MaxTenantsPerConn of a Config that leaves it zero. PostgreSQL
// keeps, in each backend, the catalog entries of every table that backend has touched, and never
// gives that memory back: about 32 kB for a tenant of 10 tables, and 80 kB with a statement
// prepared for that tenant (BenchmarkBackendCacheGrowth). A connection retired after 200 tenants
// holds its backend near 17 MB of such entries, under the 20 MB that TestAttackBackendMemoryBound
// asserts, however many tenants the pool serves; a pool serving a few hundred tenants at random
// does not churn its connections. (250 would reach 20.3 MB in the worst case.)
const DefaultMaxTenantsPerConn = 200

// PoolMode says how the server sessions behind the driver's connections are shared.
type PoolMode string

const (
	// PoolSession: each driver connection keeps one server session, as with a direct connection or a
	// pooler in session mode, which holds the set that every statement is sent with, and pgx's
	// prepared statements. The zero value "" means the same.
	PoolSession PoolMode = "session"

	// PoolTransaction: consecutive transactions of one driver connection may run on different
	// server sessions, shared with other clients, as behind PgBouncer's pool_mode=transaction. No
	// session state survives a transaction, so every statement carries its tenant's search path,
	// scoped to its own transaction, in the same round trip. See the package documentation.
	PoolTransaction PoolMode = "transaction"
)

// paramPrefix marks DSN parameters that belong to pgschemas; an unknown one is an error, not a typo
// sent to the server.
const paramPrefix = "pgschemas_"

// isOurParam reports whether a DSN parameter belongs to pgschemas: its name starts with pgschemas_,
// in any case, since PostgreSQL would read a parameter of another case as the same name.
func isOurParam(key string) bool { return hasPrefixFold(key, paramPrefix) }

// Config configures a Connector. The zero value is usable: it connects as the libpq environment
// (PGHOST, PGUSER, ...) says, with no extra search paths.
type Config struct {
	// ConnConfig configures each pgx connection: server, TLS, tracer, DefaultQueryExecMode and the
	// statement cache sizes. nil means pgx.ParseConfig(""). The Connector copies it.
	ConnConfig *pgx.ConnConfig

	// ExtraSearchPaths are schemas appended after public to every search path, for shared
	// extensions. Each must be a valid schema name other than public.
	ExtraSearchPaths []string

	// Pooler is PoolSession ("" means the same) or PoolTransaction.
	Pooler PoolMode

	// Strict runs every statement as its tenant's role (TenantRole), set with the path in the same
	// round trip, so that SQL naming another tenant's schema fails with permission denied; without
	// a tenant, statements run as the login role itself. The roles are the engine's (schemaset's
	// strict = true). Connections then run as in the pooler mode, whatever Pooler says, and Connect
	// refuses a login role that could escape (ErrStrictUnsafe). See the package documentation.
	Strict bool
	// RequireTenant makes an operation whose context names no schema fail with ErrNoTenant before
	// anything is sent, rather than run in public: for services where every statement belongs to
	// a tenant, a forgotten WithSchema is then an error, not a read of the shared tables.
	RequireTenant bool
	// MaxTenantsPerConn retires a connection once it has served this many distinct schemas (the
	// no-tenant path counts as one): database/sql closes it when it comes back to the pool, rather
	// than let its backend's catalog cache grow with every tenant. 0 means
	// DefaultMaxTenantsPerConn; a negative value means no limit.
	MaxTenantsPerConn int
	// MaxStatementCopies bounds the copies of pgx's cached statements that a connection holds, one
	// for each other tenant that runs the statement: PostgreSQL plans a prepared statement again
	// whenever it runs in another search path than the last time, and a tenant's copy keeps its own
	// plan. Each copy costs the backend the memory of one prepared statement; beyond the bound, the
	// oldest copy is closed. 0 means DefaultMaxStatementCopies; a negative value means none, and
	// tenants then share pgx's statements and have them planned again at each switch. Pooler mode
	// and the exec modes cache no statement, and make no copy.
	MaxStatementCopies int
}

// DefaultMaxStatementCopies is the MaxStatementCopies of a Config that leaves it zero, as many as
// pgx's default statement cache holds statements.
const DefaultMaxStatementCopies = stamp.DefaultMaxCopies

// ParseConfig parses a connection string that pgx accepts (URL or keyword/value form), and the
// pgschemas_ parameters in it (ParamExtraSearchPaths, ParamPooler, ParamStrict). An unknown pgschemas_ parameter is
// an error.
func ParseConfig(dsn string) (Config, error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return Config{}, fmt.Errorf("pgschemas: %w", err) // pgx redacts the password and keeps the cause
	}
	cfg := Config{ConnConfig: cc}
	// pgx hands unknown parameters to the server as run-time parameters; take ours out first.
	for key, value := range cc.RuntimeParams {
		if !isOurParam(key) {
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
		case ParamPooler:
			cfg.Pooler = PoolMode(value)
		case ParamStrict:
			if cfg.Strict, err = parseOnOff(key, value); err != nil {
				return Config{}, err
			}
		case ParamRequireTenant:
			if cfg.RequireTenant, err = parseOnOff(key, value); err != nil {
				return Config{}, err
			}
		case ParamMaxTenantsPerConn:
			n, err := strconv.Atoi(value)
			if err != nil {
				return Config{}, fmt.Errorf("pgschemas: DSN parameter %s=%q: want a whole number (0 for the default, %d; -1 for no limit)", key, value, DefaultMaxTenantsPerConn)
			}
			cfg.MaxTenantsPerConn = n
		case ParamMaxStatementCopies:
			n, err := strconv.Atoi(value)
			if err != nil {
				return Config{}, fmt.Errorf("pgschemas: DSN parameter %s=%q: want a whole number (0 for the default, %d; -1 for none)", key, value, DefaultMaxStatementCopies)
			}
			cfg.MaxStatementCopies = n
		default:
			return Config{}, fmt.Errorf("pgschemas: unknown DSN parameter %q (known: %s)", key,
				strings.Join([]string{ParamExtraSearchPaths, ParamPooler, ParamStrict, ParamRequireTenant, ParamMaxTenantsPerConn, ParamMaxStatementCopies}, ", "))
		}
	}
	if _, err := cfg.check(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseOnOff reads a boolean DSN parameter.
func parseOnOff(key, value string) (bool, error) {
	switch strings.ToLower(value) {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("pgschemas: DSN parameter %s=%q: want on or off", key, value)
}

// maxTenants returns the limit of MaxTenantsPerConn: 0 for none.
func (cfg Config) maxTenants() int {
	switch {
	case cfg.MaxTenantsPerConn == 0:
		return DefaultMaxTenantsPerConn
	case cfg.MaxTenantsPerConn < 0:
		return 0
	}
	return cfg.MaxTenantsPerConn
}

// stampOptions returns how the connections of cfg stamp their statements; pooled says whether
// their server sessions may change between transactions.
func (cfg Config) stampOptions(pooled bool) stamp.Options {
	return stamp.Options{Strict: cfg.Strict, Reparse: pooled, NoCancel: pooled, MaxCopies: cfg.MaxStatementCopies}
}

// check checks the config and returns the search path tail shared by all schemas:
// `public, "ext1", "ext2", pg_temp`. pg_temp comes last: PostgreSQL searches the session's
// temporary schema first unless the path names it, and a temporary table of one tenant would then
// shadow every tenant's table of that name on the backend.
func (cfg Config) check() (string, error) {
	switch cfg.Pooler {
	case "", PoolSession, PoolTransaction:
	default:
		return "", fmt.Errorf("pgschemas: pooler %q: want %q or %q", cfg.Pooler, PoolSession, PoolTransaction)
	}
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
		b.WriteString(", ")
		b.WriteString(quoteSchema(s))
	}
	b.WriteString(", pg_temp")
	return b.String(), nil
}

var errDuplicate = errors.New("listed twice")
