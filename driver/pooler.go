package driver

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// This file is the PoolTransaction mode: behind a pooler that gives each transaction any server
// session, nothing set in a session lasts, so each statement is sent after setLocalSQL in the same
// round trip and in the same transaction. Outside an explicit transaction, the two statements end
// with one Sync, and PostgreSQL runs everything up to a Sync as one implicit transaction: the path
// is set for the statement alone, and the pooler holds one server session for both.

// setLocalSQL sets the search path until the end of the current transaction, and fails when the
// schema does not exist: $2 is the quoted schema name, and its cast to regnamespace looks it up in
// pg_namespace and fails with SQLSTATE 3F000 (invalid_schema_name) when there is none. A failure
// aborts the transaction, so the statement sent after it does not run; zero rows, which
// setPathSQL answers for a missing schema, would not stop it.
const setLocalSQL = "SELECT pg_catalog.set_config('search_path', $1, true), $2::pg_catalog.regnamespace"

// pgInvalidSchemaName is the SQLSTATE of setLocalSQL for a missing schema.
const pgInvalidSchemaName = "3F000"

// setLocalStmt is the statement that sets the path (and, in strict mode, the role) for schema until
// the end of the transaction, with its arguments: setLocalSQL, or setStrictSQL.
type setLocalStmt struct {
	schema string
	sql    string
	args   []any // strings
}

// setLocal returns the setLocalStmt for schema ("" for none). The connection keeps the last one, so
// that the statements of one tenant, in a row, build it once.
func (c *conn) setLocal(schema string) *setLocalStmt {
	if s := c.set; s != nil && s.schema == schema {
		return s
	}
	nsp := "public"
	if schema != "" {
		nsp = quoteSchema(schema)
	}
	s := &setLocalStmt{schema: schema, sql: setLocalSQL, args: []any{c.cn.searchPath(schema), nsp}}
	if c.cn.strict {
		role := roleNone
		if schema != "" {
			role = TenantRole(schema)
		}
		s.sql, s.args = setStrictSQL, append(s.args, role)
	}
	c.set = s
	return s
}

// setLocalErr turns the error of setLocalSQL (or setStrictSQL) into the operation's error.
func setLocalErr(schema string, err error) error {
	var pgErr *pgconn.PgError
	if rerr := strictRoleErr(schema, err); rerr != nil {
		return rerr
	}
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == pgInvalidSchemaName:
		return &SchemaError{Schema: schema, Err: ErrSchemaNotFound}
	case errors.As(err, &pgErr):
		return &SchemaError{Schema: schema, Err: fmt.Errorf("set search_path: %w", err)}
	}
	return connErr(err) // the connection broke, or nothing was sent (an argument pgx cannot encode)
}

// connErr is err, or driver.ErrBadConn when nothing reached the server, as pgx stdlib returns.
func connErr(err error) error {
	if err != nil && pgconn.SafeToRetry(err) {
		return sqldriver.ErrBadConn
	}
	return err
}

// pooledStart checks what every operation checks before it sends anything, and returns the
// operation's schema.
func (c *conn) pooledStart(ctx context.Context) (string, error) {
	if c.pgx.IsClosed() {
		return "", sqldriver.ErrBadConn
	}
	schema, err := c.opSchema(ctx)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err // nothing sent: the caller gets its context's error and the connection stays
	}
	return schema, nil
}

// setsPath reports whether a statement sent now must follow setLocalSQL: always, but in a failed
// transaction, where the server runs nothing but ROLLBACK (or ROLLBACK TO SAVEPOINT), and the set
// would fail in its place.
func (c *conn) setsPath() bool { return c.pgx.PgConn().TxStatus() != 'E' }

// sendPooled sends setLocalSQL for ctx's schema, then query (with the values of pooledArgs) unless
// it is "", in one round trip, and reads the set's result. The caller reads query's result and
// closes the BatchResults.
func (c *conn) sendPooled(ctx context.Context, query string, vals []any) (pgx.BatchResults, error) {
	schema, err := c.pooledStart(ctx)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	set := c.setsPath()
	if set {
		st := c.setLocal(schema)
		b.Queue(st.sql, st.args...)
	}
	if query != "" {
		b.Queue(query, vals...)
	}
	br := c.pgx.SendBatch(ctx, b)
	if set {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, setLocalErr(schema, err)
		}
	}
	return br, nil
}

// pooledArgs returns the values of args for a pgx.Batch, less the leading options that only
// pgx.Conn.Query reads (a QueryExecMode, result formats): the pooler mode fixes the exec mode.
// A leading pgx.NamedArgs (a QueryRewriter) stays; the batch applies it.
func pooledArgs(args []sqldriver.NamedValue) []any {
	out := make([]any, 0, len(args))
	for _, a := range args {
		if len(out) == 0 {
			switch a.Value.(type) {
			case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
				continue
			}
		}
		out = append(out, a.Value)
	}
	return out
}

func (c *conn) pooledExec(ctx context.Context, query string, args []sqldriver.NamedValue) (sqldriver.Result, error) {
	vals := pooledArgs(args)
	if len(vals) == 0 {
		return c.pooledExecSimple(ctx, query)
	}
	br, err := c.sendPooled(ctx, query, vals)
	if err != nil {
		return nil, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr // a failed implicit commit, such as a deferred constraint
	}
	if err != nil {
		return nil, connErr(err)
	}
	return sqldriver.RowsAffected(tag.RowsAffected()), nil
}

// pooledExecSimple runs query, which has no arguments and may hold several statements, with the
// simple protocol, as pgx runs an Exec without arguments: one Query message that starts with
// setLocalSQL. PostgreSQL runs the statements of one Query message in one implicit transaction.
func (c *conn) pooledExecSimple(ctx context.Context, query string) (sqldriver.Result, error) {
	schema, err := c.pooledStart(ctx)
	if err != nil {
		return nil, err
	}
	set := c.setsPath()
	if set {
		st := c.setLocal(schema)
		args := make([]string, len(st.args))
		for i, a := range st.args {
			args[i] = a.(string)
		}
		query = withLiterals(st.sql, args...) + ";\n" + query
	}
	mrr := c.pgx.PgConn().Exec(ctx, query)
	if set {
		err := errors.New("pgschemas: no result for the search_path statement")
		if mrr.NextResult() {
			_, err = mrr.ResultReader().Close()
		}
		if err != nil {
			if cerr := mrr.Close(); cerr != nil {
				err = cerr
			}
			return nil, setLocalErr(schema, err)
		}
	}
	var tag pgconn.CommandTag
	for mrr.NextResult() {
		tag, _ = mrr.ResultReader().Close()
	}
	if err := mrr.Close(); err != nil {
		return nil, connErr(err)
	}
	return sqldriver.RowsAffected(tag.RowsAffected()), nil
}

// withLiterals returns query with its parameters $1, $2, ... (at most 9) replaced by args quoted
// as literals, for the simple protocol, which has no parameters.
func withLiterals(query string, args ...string) string {
	pairs := make([]string, 0, 2*len(args))
	for i, a := range args {
		pairs = append(pairs, "$"+strconv.Itoa(i+1), quoteLiteral(a))
	}
	return strings.NewReplacer(pairs...).Replace(query)
}

// quoteLiteral quotes s as an SQL string literal. The paths and names it quotes hold only letters,
// digits, '_', '"', ',' and ' ', but it doubles single quotes anyway.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (c *conn) pooledQuery(ctx context.Context, query string, args []sqldriver.NamedValue) (sqldriver.Rows, error) {
	br, err := c.sendPooled(ctx, query, pooledArgs(args))
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err == nil {
		// Read the first row, as pgx stdlib does: a failing statement fails the query, not a row.
		more := rows.Next()
		if err = rows.Err(); err == nil {
			return &pooledRows{types: c.pgx.TypeMap(), br: br, rows: rows, first: true, more: more}, nil
		}
		rows.Close()
	}
	br.Close()
	return nil, connErr(err)
}

// pooledPing sends setLocalSQL alone: it proves that the connection works and the schema exists.
func (c *conn) pooledPing(ctx context.Context) error {
	br, err := c.sendPooled(ctx, "", nil)
	if err != nil {
		return err
	}
	return connErr(br.Close())
}

// pooledPrepare checks query in ctx's schema, with an unnamed prepare pipelined after setLocalSQL.
// As in session mode, nothing prepared outlives it: each execution sends its own statement.
func (c *conn) pooledPrepare(ctx context.Context, query string) (sqldriver.Stmt, error) {
	schema, err := c.pooledStart(ctx)
	if err != nil {
		return nil, err
	}
	pl := c.pgx.PgConn().StartPipeline(ctx)
	set := c.setsPath()
	if set {
		st := c.setLocal(schema)
		vals := make([][]byte, len(st.args))
		for i, a := range st.args {
			vals[i] = []byte(a.(string))
		}
		pl.SendQueryParams(st.sql, vals, nil, nil, nil)
	}
	pl.SendPrepare("", query, nil)
	if err := pl.Sync(); err != nil {
		pl.Close()
		return nil, connErr(err)
	}
	if set {
		res, err := pl.GetResults()
		if rr, ok := res.(*pgconn.ResultReader); ok {
			_, err = rr.Close()
		}
		if err != nil {
			pl.Close()
			return nil, setLocalErr(schema, err)
		}
	}
	res, err := pl.GetResults()
	if cerr := pl.Close(); err == nil {
		err = cerr
	}
	sd, ok := res.(*pgconn.StatementDescription)
	if err == nil && !ok {
		err = fmt.Errorf("pgschemas: prepare: unexpected pipeline result %T", res)
	}
	if err != nil {
		return nil, connErr(err)
	}
	return &stmt{c: c, query: query, numInput: len(sd.ParamOIDs)}, nil
}

// pooledBegin sends BEGIN and setLocalSQL in one round trip; the transaction's statements each
// send setLocalSQL again, so that nothing they do (SET, ROLLBACK TO SAVEPOINT, COMMIT AND CHAIN)
// leaves a later statement without the path.
func (c *conn) pooledBegin(ctx context.Context, opts sqldriver.TxOptions) (sqldriver.Tx, error) {
	begin, err := beginSQL(opts)
	if err != nil {
		return nil, err
	}
	schema, err := c.pooledStart(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.beginPooled(ctx, schema, begin); err != nil {
		return nil, err
	}
	c.inTx, c.txSchema = true, schema
	return &tx{c: c, tx: pooledTx{c: c.pgx, ctx: ctx}}, nil
}

// beginPooled sends begin and setLocalSQL for schema in one round trip. When the set fails, it
// rolls back (the one case that costs a second round trip); should the rollback fail too, the
// connection is left in a transaction, and ResetSession discards it.
func (c *conn) beginPooled(ctx context.Context, schema, begin string) error {
	b := &pgx.Batch{}
	b.Queue(begin)
	st := c.setLocal(schema)
	b.Queue(st.sql, st.args...)
	br := c.pgx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return connErr(err)
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		if c.pgx.PgConn().TxStatus() != 'I' {
			_, _ = c.pgx.Exec(ctx, "ROLLBACK")
		}
		return setLocalErr(schema, err)
	}
	return connErr(br.Close())
}

// beginSQL returns the BEGIN statement for opts, with pgx stdlib's mapping of isolation levels.
func beginSQL(opts sqldriver.TxOptions) (string, error) {
	begin := "BEGIN"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		begin += " ISOLATION LEVEL READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		begin += " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		begin += " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		begin += " ISOLATION LEVEL SERIALIZABLE"
	default:
		return "", fmt.Errorf("pgschemas: unsupported isolation level %v", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		begin += " READ ONLY"
	}
	return begin, nil
}

// pooledTx ends a transaction that pooledBegin began, with BeginTx's context as pgx stdlib does.
type pooledTx struct {
	c   *pgx.Conn
	ctx context.Context
}

func (t pooledTx) Commit() error {
	tag, err := t.c.Exec(t.ctx, "COMMIT")
	if err == nil && tag.String() == "ROLLBACK" {
		err = pgx.ErrTxCommitRollback // the transaction had failed
	}
	return err
}

func (t pooledTx) Rollback() error {
	_, err := t.c.Exec(t.ctx, "ROLLBACK")
	return err
}

// pooledRaw runs fn in a transaction that starts with ctx's path and commits when fn returns nil,
// or, when the connection is already in a transaction, in that transaction after setting the path.
func (c *conn) pooledRaw(ctx context.Context, fn func(*pgx.Conn) error) error {
	if c.pgx.PgConn().TxStatus() != 'I' {
		if err := c.pooledPing(ctx); err != nil {
			return err
		}
		return fn(c.pgx)
	}
	schema, err := c.pooledStart(ctx)
	if err != nil {
		return err
	}
	if err := c.beginPooled(ctx, schema, "BEGIN"); err != nil {
		return err
	}
	t := pooledTx{c: c.pgx, ctx: ctx}
	if err := fn(c.pgx); err != nil {
		_ = t.Rollback() // should it fail, ResetSession discards the connection, still in a transaction
		return err
	}
	return t.Commit()
}

// pooledRows are the rows of a statement that a pgx.Batch ran. Their values and column types are
// those of pgx stdlib's Rows, so that a program scans the same Go types in both modes.
type pooledRows struct {
	types *pgtype.Map
	br    pgx.BatchResults
	rows  pgx.Rows
	first bool // the first row was read by pooledQuery; more says whether there was one
	more  bool
	done  bool  // rows and br are closed
	err   error // their error, once done
	cols  []string
	conv  []func([]byte) (sqldriver.Value, error)
}

var (
	_ sqldriver.Rows                           = (*pooledRows)(nil)
	_ sqldriver.RowsColumnTypeDatabaseTypeName = (*pooledRows)(nil)
	_ sqldriver.RowsColumnTypeLength           = (*pooledRows)(nil)
	_ sqldriver.RowsColumnTypePrecisionScale   = (*pooledRows)(nil)
	_ sqldriver.RowsColumnTypeScanType         = (*pooledRows)(nil)
)

func (r *pooledRows) Columns() []string {
	if r.cols == nil {
		fds := r.rows.FieldDescriptions()
		r.cols = make([]string, len(fds))
		for i, fd := range fds {
			r.cols[i] = fd.Name
		}
	}
	return r.cols
}

// finish closes the rows and the batch, which reads the end of the implicit transaction: an error
// there (a deferred constraint, a serialization failure) is the rows' error.
func (r *pooledRows) finish() error {
	if !r.done {
		r.done = true
		r.rows.Close()
		r.err = r.rows.Err()
		if err := r.br.Close(); r.err == nil {
			r.err = err
		}
	}
	return r.err
}

func (r *pooledRows) Close() error { return r.finish() }

func (r *pooledRows) Next(dest []sqldriver.Value) error {
	more := r.more
	switch {
	case r.first:
		r.first = false
	case r.done:
		more = false
	default:
		more = r.rows.Next()
	}
	if !more {
		if err := r.finish(); err != nil {
			return err
		}
		return io.EOF
	}
	if r.conv == nil {
		fds := r.rows.FieldDescriptions()
		r.conv = make([]func([]byte) (sqldriver.Value, error), len(fds))
		for i, fd := range fds {
			r.conv[i] = valueFunc(r.types, fd)
		}
	}
	for i, raw := range r.rows.RawValues() {
		if raw == nil {
			dest[i] = nil
			continue
		}
		v, err := r.conv[i](raw)
		if err != nil {
			return fmt.Errorf("convert field %d failed: %w", i, err)
		}
		dest[i] = v
	}
	return nil
}

// valueFunc returns the conversion of a column's raw values to the driver.Value that pgx stdlib's
// Rows.Next gives for its type.
func valueFunc(m *pgtype.Map, fd pgconn.FieldDescription) func([]byte) (sqldriver.Value, error) {
	switch fd.DataTypeOID {
	case pgtype.BoolOID:
		return scanAs(m, fd, func(d bool) (sqldriver.Value, error) { return d, nil })
	case pgtype.ByteaOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		return scanAs(m, fd, func(d []byte) (sqldriver.Value, error) { return d, nil })
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		return scanAs(m, fd, pgtype.Uint32.Value)
	case pgtype.DateOID:
		return scanAs(m, fd, pgtype.Date.Value)
	case pgtype.Float4OID:
		return scanAs(m, fd, func(d float32) (sqldriver.Value, error) { return float64(d), nil })
	case pgtype.Float8OID:
		return scanAs(m, fd, func(d float64) (sqldriver.Value, error) { return d, nil })
	case pgtype.Int2OID:
		return scanAs(m, fd, func(d int16) (sqldriver.Value, error) { return int64(d), nil })
	case pgtype.Int4OID:
		return scanAs(m, fd, func(d int32) (sqldriver.Value, error) { return int64(d), nil })
	case pgtype.Int8OID:
		return scanAs(m, fd, func(d int64) (sqldriver.Value, error) { return d, nil })
	case pgtype.TimestampOID:
		return scanAs(m, fd, pgtype.Timestamp.Value)
	case pgtype.TimestamptzOID:
		return scanAs(m, fd, pgtype.Timestamptz.Value)
	default:
		return scanAs(m, fd, func(d string) (sqldriver.Value, error) { return d, nil })
	}
}

// scanAs plans the scan of fd's values into a T once, and converts each scanned T with conv.
func scanAs[T any](m *pgtype.Map, fd pgconn.FieldDescription, conv func(T) (sqldriver.Value, error)) func([]byte) (sqldriver.Value, error) {
	var d T
	plan := m.PlanScan(fd.DataTypeOID, fd.Format, &d)
	return func(src []byte) (sqldriver.Value, error) {
		var zero T
		d = zero // a []byte must not share the previous row's array
		if err := plan.Scan(src, &d); err != nil {
			return nil, err
		}
		return conv(d)
	}
}

// The column type methods answer as pgx stdlib's Rows do.

func (r *pooledRows) ColumnTypeDatabaseTypeName(i int) string {
	oid := r.rows.FieldDescriptions()[i].DataTypeOID
	if t, ok := r.types.TypeForOID(oid); ok {
		return strings.ToUpper(t.Name)
	}
	return strconv.FormatInt(int64(oid), 10)
}

// varHeaderSize is the varlena header that a type modifier of varchar, bpchar and numeric counts.
const varHeaderSize = 4

func (r *pooledRows) ColumnTypeLength(i int) (int64, bool) {
	fd := r.rows.FieldDescriptions()[i]
	switch fd.DataTypeOID {
	case pgtype.TextOID, pgtype.ByteaOID:
		return math.MaxInt64, true
	case pgtype.VarcharOID, pgtype.BPCharOID:
		return int64(fd.TypeModifier - varHeaderSize), true
	case pgtype.VarbitOID:
		return int64(fd.TypeModifier), true
	}
	return 0, false
}

func (r *pooledRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	fd := r.rows.FieldDescriptions()[i]
	if fd.DataTypeOID != pgtype.NumericOID {
		return 0, 0, false
	}
	mod := fd.TypeModifier - varHeaderSize
	return int64((mod >> 16) & 0xffff), int64(mod & 0xffff), true
}

func (r *pooledRows) ColumnTypeScanType(i int) reflect.Type {
	switch r.rows.FieldDescriptions()[i].DataTypeOID {
	case pgtype.Float8OID, pgtype.NumericOID:
		return reflect.TypeFor[float64]()
	case pgtype.Float4OID:
		return reflect.TypeFor[float32]()
	case pgtype.Int8OID:
		return reflect.TypeFor[int64]()
	case pgtype.Int4OID:
		return reflect.TypeFor[int32]()
	case pgtype.Int2OID:
		return reflect.TypeFor[int16]()
	case pgtype.BoolOID:
		return reflect.TypeFor[bool]()
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		return reflect.TypeFor[time.Time]()
	case pgtype.ByteaOID:
		return reflect.TypeFor[[]byte]()
	}
	return reflect.TypeFor[string]()
}
