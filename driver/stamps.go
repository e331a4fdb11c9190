package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgschemas/pgschemas/internal/stamp"
)

// stamps is what the database/sql connections of one Connector, or the connections of one
// configured pgxpool, share: how their statements are stamped with a tenant (internal/stamp), and
// the Set of each schema, made once and read by every connection.
type stamps struct {
	tail   string // the search path after the tenant: `public, "ext", pg_temp`
	opts   stamp.Options
	max    int // MaxTenantsPerConn: a connection that served this many schemas is retired
	sets   sync.Map
	noneSt *stamp.Set
}

func newStamps(tail string, opts stamp.Options, max int) *stamps {
	s := &stamps{tail: tail, opts: opts, max: max}
	s.noneSt = s.make("")
	return s
}

// set returns the Set of schema ("" for none): its path, its existence check, and in strict mode
// its role.
func (s *stamps) set(schema string) *stamp.Set {
	if schema == "" {
		return s.noneSt
	}
	if st, ok := s.sets.Load(schema); ok {
		return st.(*stamp.Set)
	}
	st, _ := s.sets.LoadOrStore(schema, s.make(schema))
	return st.(*stamp.Set)
}

func (s *stamps) make(schema string) *stamp.Set {
	nsp, role := "public", ""
	if schema != "" {
		nsp = quoteSchema(schema)
	}
	if s.opts.Strict {
		role = roleNone
		if schema != "" {
			role = TenantRole(schema)
		}
	}
	return stamp.NewSet(joinPath(schema, s.tail), nsp, role, s.opts)
}

// configure makes cc's connections stamped: AfterNetConnect wraps the network connection (after
// TLS), and AfterConnect arms it once the connection is ready, before the AfterConnect that cc
// had, whose statements run without a tenant. With Options.NoCancel, cc's dialer refuses to
// open the connection of a cancel request.
func (s *stamps) configure(cc *pgx.ConnConfig) {
	afterNet, after, dial := cc.AfterNetConnect, cc.AfterConnect, cc.DialFunc
	cc.AfterNetConnect = func(ctx context.Context, cfg *pgconn.Config, nc net.Conn) (net.Conn, error) {
		if afterNet != nil {
			var err error
			if nc, err = afterNet(ctx, cfg, nc); err != nil {
				return nil, err
			}
		}
		return stamp.Wrap(nc, s.opts), nil
	}
	cc.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		sc, ok := pc.Conn().(*stamp.Conn)
		if !ok {
			return errors.New("pgschemas: the connection is not stamped: AfterNetConnect was replaced after the driver configured it")
		}
		sc.Arm(s.noneSt)
		if s.opts.Strict {
			if err := checkLogin(ctx, pc); err != nil {
				return err
			}
		}
		if after != nil {
			return after(ctx, pc)
		}
		return nil
	}
	if s.opts.NoCancel && dial != nil {
		cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if network == stamp.NoCancelNetwork {
				return nil, errNoCancel
			}
			return dial(ctx, network, addr)
		}
	}
}

// errNoCancel is what a cancel request meets in pooler mode: pgconn ignores its error.
var errNoCancel = errors.New("pgschemas: no cancel requests behind a pooler")

// stampOf returns the stamp.Conn under pc.
func stampOf(pc *pgconn.PgConn) *stamp.Conn {
	sc, _ := pc.Conn().(*stamp.Conn)
	return sc
}

// retire reports whether a connection has served as many schemas as it may, and should close
// rather than go back to its pool.
func (s *stamps) retire(sc *stamp.Conn) bool { return s.max > 0 && sc.Served() >= s.max }

// explain returns the error of an operation in schema that failed with err: when the stamp of
// its statement failed, the server's error is the stamp's, and the statement did not run.
func (s *stamps) explain(schema string, sc *stamp.Conn, err error) error {
	setErr := sc.TakeSetError()
	var pgErr *pgconn.PgError
	if setErr == nil || !errors.As(err, &pgErr) || pgErr.Code != setErr.Code {
		return err
	}
	return s.setFailed(schema, pgErr)
}

// setFailed returns the error of an operation in schema whose set failed with err.
func (s *stamps) setFailed(schema string, err *pgconn.PgError) error {
	if rerr := strictRoleErr(schema, err); rerr != nil && s.opts.Strict {
		return rerr
	}
	if err.Code == pgInvalidSchemaName {
		return &SchemaError{Schema: schema, Err: ErrSchemaNotFound}
	}
	return &SchemaError{Schema: schema, Err: fmt.Errorf("set search_path: %w", err)}
}

// pgInvalidSchemaName is the SQLSTATE of the stamp's existence check for a missing schema.
const pgInvalidSchemaName = "3F000"
