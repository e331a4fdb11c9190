package stamp

import (
	"github.com/jackc/pgx/v5/pgproto3"
)

// stmtName names the prepared set on the server. pgx names its own statements stmtcache_...
// or by the caller's choice; a caller that prepares this name loses it to the next Close.
const stmtName = "pgschemas_set"

// setSQL sets the path until the end of the transaction and proves that the schema exists: the
// cast to regnamespace fails with SQLSTATE 3F000 when it does not, which aborts the transaction,
// so that the statement after it does not run. strictSQL also sets the role.
const (
	setSQL    = "SELECT pg_catalog.set_config('search_path', $1, true), $2::pg_catalog.regnamespace"
	strictSQL = setSQL + ", pg_catalog.set_config('role', $3, true)"
)

// neutralSQL sets the session's own path, which no statement of a tenant relies on, to the empty
// path, and commits it. A simple-protocol Query that begins outside a transaction starts with it:
// a statement that the Query's text runs after a COMMIT or ROLLBACK of its own is outside the
// transaction that the set was local to, and the session's path it then runs in resolves no
// tenant's tables, whatever SQL run before on the connection set it to. The COMMIT warns that no
// transaction is in progress; the reader drops the warning with the rest.
const neutralSQL = "SELECT pg_catalog.set_config('search_path', '', false);COMMIT;"

// Set is what a Conn stamps statements with: one tenant's path, the schema whose existence each
// statement checks, and in strict mode its role. A Set is immutable once made, so that one can
// serve every connection of a pool.
type Set struct {
	path, schema, role string

	ext   []byte // Bind and Execute of the prepared set, with the values
	query string // the same as a simple-protocol statement, values as literals, ending with ";"
}

// NewSet returns the Set for a search path (`"acme", public, pg_temp`), the schema it checks,
// quoted (`"acme"`, or public), and, in strict mode, a role ("none" for the login role itself; ""
// outside strict mode). The values must hold no single quote and no NUL: they are names that
// driver.CheckSchemaName accepted, quoted with double quotes.
func NewSet(path, schema, role string) *Set {
	s := &Set{path: path, schema: schema, role: role}
	params := [][]byte{[]byte(path), []byte(schema)}
	sql := "SELECT pg_catalog.set_config('search_path', '" + path + "', true), '" + schema + "'::pg_catalog.regnamespace"
	if role != "" {
		params = append(params, []byte(role))
		sql += ", pg_catalog.set_config('role', '" + role + "', true)"
	}
	s.ext = encode(nil, &pgproto3.Bind{PreparedStatement: stmtName, Parameters: params}, &pgproto3.Execute{})
	s.query = sql + ";"
	return s
}

// Path returns the Set's search path.
func (s *Set) Path() string { return s.path }

// Schema returns the quoted schema that the Set checks.
func (s *Set) Schema() string { return s.schema }

// Role returns the Set's role, "" outside strict mode.
func (s *Set) Role() string { return s.role }

// reparse returns Close and Parse of the prepared set: Close of a statement that does not exist
// is no error, so the pair works whether or not the server still holds it.
func reparse(strict bool) []byte {
	sql := setSQL
	if strict {
		sql = strictSQL
	}
	return encode(nil, &pgproto3.Close{ObjectType: 'S', Name: stmtName}, &pgproto3.Parse{Name: stmtName, Query: sql})
}

// encode appends the encoding of msgs to dst. The messages here are made of names and short
// values, so encoding cannot fail.
func encode(dst []byte, msgs ...pgproto3.FrontendMessage) []byte {
	for _, m := range msgs {
		var err error
		if dst, err = m.Encode(dst); err != nil {
			panic("stamp: encode " + err.Error())
		}
	}
	return dst
}
