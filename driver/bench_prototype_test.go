package driver_test

// BenchmarkPairedPrototype measures, on this machine, the floor of the design that every mode but
// the pooler mode follows, as issue 14 first measured it: a bare pgconn pipeline of the prepared
// set (set_config('search_path', $1, true), $2::regnamespace) and the tenant's prepared SELECT,
// one Sync, against the same prepared SELECT sent alone, with no set. Neither side goes through
// database/sql, pgx's Conn or the driver's stamp, so what its ratio leaves below 1 is the server's
// work for the set statement, which no client code can take away; the driver's own cases
// (BenchmarkPairedSelect) can come close to this ratio and not pass it.

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/internal/stamp"
	"github.com/pgschemas/pgschemas/internal/tenantsql"
)

// protoConn is one bare connection and its prepared statements: the set (nil for the baseline)
// and a SELECT per tenant, each prepared in that tenant's path.
type protoConn struct {
	pc    *pgconn.PgConn
	set   *pgconn.StatementDescription
	sel   []*pgconn.StatementDescription
	stamp [][][]byte // per tenant: the set's parameters, the path and the schema
	id    []byte
}

// protoOpen connects to dsn and prepares the SELECT of each of tenants schemas, t0 up; with
// stamped, also the set.
func protoOpen(b *testing.B, dsn string, tenants int, stamped bool) *protoConn {
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pc.Close(context.Background()) })
	c := &protoConn{pc: pc}
	if stamped { // the driver's own set
		if c.set, err = pc.Prepare(ctx, "proto_set", stamp.SetSQL, nil); err != nil {
			b.Fatal(err)
		}
	}
	for t := range tenants {
		schema := pgx.Identifier{tenantsql.Schema(t)}.Sanitize()
		path := schema + ", public, pg_temp"
		if err := pc.Exec(ctx, "SET search_path TO "+path).Close(); err != nil {
			b.Fatal(err)
		}
		sd, err := pc.Prepare(ctx, fmt.Sprintf("proto_sel_%d", t), benchSelectSQL, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.sel = append(c.sel, sd)
		c.stamp = append(c.stamp, [][]byte{[]byte(path), []byte(schema)})
	}
	if stamped { // the set, not the session, gives each statement its path
		if err := pc.Exec(ctx, "RESET search_path").Close(); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// run sends, in one pipeline with one Sync, the set of tenant t (when the connection has one) and
// t's SELECT of row i%benchRows+1, and reads the responses: the SELECT must return one row.
func (c *protoConn) run(ctx context.Context, t, i int) error {
	c.id = strconv.AppendInt(c.id[:0], int64(i%benchRows+1), 10)
	pl := c.pc.StartPipeline(ctx)
	if c.set != nil {
		pl.SendQueryStatement(c.set, c.stamp[t], nil, nil)
	}
	pl.SendQueryStatement(c.sel[t], [][]byte{c.id}, nil, nil)
	if err := pl.Sync(); err != nil {
		pl.Close()
		return err
	}
	rows := -1
	for {
		res, err := pl.GetResults()
		if err != nil {
			pl.Close()
			return err
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			rows = 0
			for r.NextRow() {
				rows++
			}
			if _, err := r.Close(); err != nil {
				pl.Close()
				return err
			}
		case *pgconn.PipelineSync:
			if err := pl.Close(); err != nil {
				return err
			}
			if rows != 1 {
				return fmt.Errorf("tenant t%d, row %d: %d rows, want 1", t, i%benchRows+1, rows)
			}
			return nil
		}
	}
}

func BenchmarkPairedPrototype(b *testing.B) {
	dsn := benchDatabase(b)
	cases := benchCases(dsn)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		tenants int
		seq     []uint8
	}{{"prototype_one_tenant", 1, cases[1].seq}, {"prototype_100_tenants", benchTenants, cases[3].seq}} {
		b.Run("api=pgconn/case="+c.name, func(b *testing.B) {
			base := protoOpen(b, dsn, 1, false)
			stamped := protoOpen(b, dsn, c.tenants, true)
			for i := range benchWarmRuns * c.tenants { // past PostgreSQL's custom plans, on both sides
				if err := base.run(ctx, 0, i); err != nil {
					b.Fatal(err)
				}
				if err := stamped.run(ctx, i%c.tenants, i); err != nil {
					b.Fatal(err)
				}
			}
			benchPair(b,
				func(i int) error { return base.run(ctx, 0, i) },
				func(i int) error { return stamped.run(ctx, int(c.seq[i&(benchSeqLen-1)]), i) })
		})
	}
}
