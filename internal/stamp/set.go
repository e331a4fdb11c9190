package stamp

import (
	"github.com/jackc/pgx/v5/pgproto3"
)

// stmtName names the prepared set on the server. pgx names its own statements stmtcache_...
// or by the caller's choice; a caller that prepares this name loses it to the next Close.
const stmtName = "pgschemas_set"

// SetSQL sets the path until the end of the transaction and proves that the schema exists: the
// cast to regnamespace fails with SQLSTATE 3F000 when it does not, which aborts the transaction,
// so that the statement after it does not run. strictSQL also sets the role.
const (
	SetSQL    = "SELECT pg_catalog.set_config('search_path', $1, true), $2::pg_catalog.regnamespace"
	strictSQL = SetSQL + ", pg_catalog.set_config('role', $3, true)"
)

// Set is what a Conn stamps statements with: one tenant's path, the schema whose existence each
// statement checks, and in strict mode its role. A Set is immutable once made, so that one can
// serve every connection of a pool.
type Set struct {
	path, schema, role string

	ext      []byte // Bind and Execute of the prepared set, with the values
	extParse []byte // the same of the set parsed as the unnamed statement (Options.Reparse)

	// The stamps of a simple-protocol Query, and how many command tags each adds. A Query can
	// begin a transaction with options (BEGIN ISOLATION LEVEL ..., SET TRANSACTION ...) that
	// PostgreSQL refuses after a statement that took a snapshot, as a SELECT does; SET takes none.
	// So the path and role are set with SET LOCAL, and outside a transaction the existence check
	// runs first, in a transaction of its own that also sets the session's own path, which no
	// statement of a tenant relies on, to the empty path: a statement that the Query's text runs
	// after a COMMIT or ROLLBACK of its own is outside the transaction that SET LOCAL was local
	// to, and the session's path it then runs in resolves no tenant's tables, whatever SQL run
	// before on the connection set it to. That COMMIT warns that no transaction is in progress;
	// the reader drops the warning with the rest. Inside a transaction, the check ran when it
	// began.
	queryIdle, queryTx string
	tagsIdle, tagsTx   int
}

// NewSet returns the Set for a search path (`"acme", public, pg_temp`), the schema it checks,
// quoted (`"acme"`, or public), and, in strict mode, a role ("none" for the login role itself; ""
// outside strict mode). The values must hold no single quote, no backslash and no NUL, and a
// role no double quote: they are names that driver.CheckSchemaName accepted, quoted with double
// quotes, and role names made of such names.
func NewSet(path, schema, role string, opts Options) *Set {
	s := &Set{path: path, schema: schema, role: role}
	params := [][]byte{[]byte(path), []byte(schema)}
	s.queryTx, s.tagsTx = "SET LOCAL search_path TO "+path+";", 1
	if role != "" {
		params = append(params, []byte(role))
		sqlRole := `"` + role + `"`
		if role == "none" {
			sqlRole = "NONE"
		}
		s.queryTx, s.tagsTx = s.queryTx+"SET LOCAL ROLE "+sqlRole+";", 2
	}
	s.ext = encode(nil, &pgproto3.Bind{PreparedStatement: stmtName, Parameters: params}, &pgproto3.Execute{})
	s.extParse = encode(nil, &pgproto3.Parse{Query: setQuery(role != "")}, &pgproto3.Bind{Parameters: params}, &pgproto3.Execute{})
	neutral := "pg_catalog.set_config('search_path', '', false), "
	if opts.Reparse {
		neutral = "" // behind a transaction pooler, nothing may be left in a server session
	}
	s.queryIdle = "SELECT " + neutral + "'" + schema + "'::pg_catalog.regnamespace;COMMIT;" + s.queryTx
	s.tagsIdle = s.tagsTx + 2
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
	return encode(nil, &pgproto3.Close{ObjectType: 'S', Name: stmtName}, &pgproto3.Parse{Name: stmtName, Query: setQuery(strict)})
}

// setQuery returns the set's SQL.
func setQuery(strict bool) string {
	if strict {
		return strictSQL
	}
	return SetSQL
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
