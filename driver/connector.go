package driver

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// DriverName is the name under which the driver is registered with database/sql.
const DriverName = "pgschemas"

func init() {
	sql.Register(DriverName, Driver{})
}

// Driver is the database/sql driver registered as "pgschemas". sql.Open("pgschemas", dsn) accepts any
// connection string that pgx accepts, plus the pgschemas_ parameters that ParseConfig documents.
type Driver struct{}

var (
	_ sqldriver.Driver        = Driver{}
	_ sqldriver.DriverContext = Driver{}
	_ sqldriver.Connector     = (*Connector)(nil)
)

// Open opens one connection. database/sql calls OpenConnector instead; Open is for callers that
// use the driver directly.
func (d Driver) Open(dsn string) (sqldriver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses dsn once; database/sql calls it from sql.Open.
func (Driver) OpenConnector(dsn string) (sqldriver.Connector, error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(cfg)
}

// Connector opens pgschemas connections. It is safe for concurrent use; database/sql calls Connect
// from its pool, sometimes with a background context (the tenant is read from each operation's
// context, never from Connect's).
type Connector struct {
	pgx           sqldriver.Connector // pgx stdlib's connector
	mode          pgx.QueryExecMode   // the connections' default exec mode: it decides statement tagging
	stamps        *stamps             // how statements carry their tenant
	pooled        bool                // Config.Pooler is PoolTransaction
	strict        bool                // Config.Strict: every statement carries its role too
	requireTenant bool                // Config.RequireTenant
}

// NewConnector checks cfg and returns a Connector for sql.OpenDB. With PoolTransaction, the
// connections run in pgx's QueryExecModeExec (QueryExecModeSimpleProtocol when ConnConfig asks for
// it), with pgx's statement and description caches off: see the package documentation.
func NewConnector(cfg Config) (*Connector, error) {
	tail, err := cfg.check()
	if err != nil {
		return nil, err
	}
	var cc *pgx.ConnConfig
	if cfg.ConnConfig == nil {
		if cc, err = pgx.ParseConfig(""); err != nil {
			return nil, fmt.Errorf("pgschemas: %w", err)
		}
	} else {
		cc = cfg.ConnConfig.Copy()
	}
	for key := range cc.RuntimeParams {
		if isOurParam(key) {
			return nil, fmt.Errorf("pgschemas: ConnConfig has run-time parameter %q: parse the DSN with driver.ParseConfig, not pgx.ParseConfig", key)
		}
	}
	pooled := cfg.Pooler == PoolTransaction
	if pooled {
		if cc.DefaultQueryExecMode != pgx.QueryExecModeSimpleProtocol {
			cc.DefaultQueryExecMode = pgx.QueryExecModeExec
		}
		cc.StatementCacheCapacity, cc.DescriptionCacheCapacity = 0, 0
	}
	st := newStamps(tail, cfg.stampOptions(pooled), cfg.maxTenants())
	st.configure(cc)
	return &Connector{pgx: stdlib.GetConnector(*cc), mode: cc.DefaultQueryExecMode, stamps: st,
		pooled: pooled, strict: cfg.Strict, requireTenant: cfg.RequireTenant}, nil
}

// joinPath returns the search path of schema ("" for none) before tail, the path shared by all
// schemas (Config.check): `"acme", public, "ext", pg_temp`.
func joinPath(schema, tail string) string {
	if schema == "" {
		return tail
	}
	return quoteSchema(schema) + ", " + tail
}

// OpenDB returns a *sql.DB over NewConnector(cfg).
func OpenDB(cfg Config) (*sql.DB, error) {
	c, err := NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// Connect opens a connection, whose statements carry no tenant until an operation names one. In
// strict mode, it first checks the login role, and fails with ErrStrictUnsafe when the role could
// escape the tenant roles (see the package documentation).
func (c *Connector) Connect(ctx context.Context) (sqldriver.Conn, error) {
	dc, err := c.pgx.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc := dc.(*stdlib.Conn)
	return &conn{std: sc, pgx: sc.Conn(), st: stampOf(sc.Conn().PgConn()), cn: c}, nil
}

// Driver returns the pgschemas Driver.
func (c *Connector) Driver() sqldriver.Driver { return Driver{} }
