// Package driver is the pgschemas database/sql driver: schema-per-tenant PostgreSQL for every
// library built on database/sql (sqlx, bun, ent, gorm, sqlc, ...), unchanged.
//
// Importing the package registers the driver "pgschemas". It wraps pgx v5 (its stdlib package)
// and reads the tenant from each operation's context:
//
//	db, err := sql.Open("pgschemas", "postgres://app@db/app?pgschemas_extra_search_paths=ext")
//	ctx := driver.WithSchema(r.Context(), "acme")
//	rows, err := db.QueryContext(ctx, "SELECT id, title FROM notes") // acme.notes
//
// # The contract
//
// Before every operation (ExecContext, QueryContext, PrepareContext, BeginTx, Ping, and the
// ExecContext and QueryContext of a prepared *sql.Stmt), the connection's search path is made
//
//	"<schema>", public, <extra search paths>   with a schema in the context
//	public, <extra search paths>               without one
//
// It costs no round trip when the connection already has that path, and one when it changes: one
// statement both sets the path and checks that the schema exists. The context of each operation is
// the only carrier of the tenant: database/sql may open a connection with a background context and
// hand it to any caller, so nothing is taken from Connect or ResetSession.
//
// Errors, each wrapped in a *SchemaError that names the schema:
//   - ErrInvalidSchemaName: the context's name is not a valid tenant schema. Nothing is sent.
//   - ErrSchemaNotFound: the schema does not exist. PostgreSQL would skip it in silence and resolve
//     names in public; the driver refuses instead, and the statement does not run.
//   - ErrSchemaMismatch: inside a transaction, a context named another schema than BeginTx's.
//     The statement does not run. A context without a schema runs in the transaction's schema.
//
// Transactions are bound to their schema at BeginTx, which sets the path before BEGIN so that no
// rollback can undo it. A path the driver had to set inside a server transaction (a BEGIN sent as
// plain SQL on a *sql.Conn) is never remembered, since ROLLBACK or ROLLBACK TO SAVEPOINT can undo
// it unseen. Statements whose text names search_path, RESET ALL or DISCARD ALL also make the
// driver set the path again before the next one. A SET that fails, times out or is cancelled
// leaves the path unknown: the next operation sets it again, and a connection that broke is
// discarded (driver.ErrBadConn, only where the server cannot have run the operation).
//
// # Statement caches
//
// pgx caches prepared statements and result descriptions by SQL text (QueryExecModeCacheStatement,
// the default, and QueryExecModeCacheDescribe). Tenants whose tables differ in shape must not share
// those entries, so in those modes a tenant's SQL is sent with a leading comment that names the
// schema: "/* pgschemas:acme */ SELECT ...". Each schema gets its own entries, and the cache holds
// (statements x tenants per connection): raise statement_cache_capacity (default 512) for many
// tenants per connection, or choose default_query_exec_mode=exec, which caches nothing.
// A *sql.Stmt prepares nothing that outlives PrepareContext; each execution runs through the cache
// in the schema of its own context, so one Stmt serves every tenant.
//
// # Interfaces
//
// The connection implements driver.Conn, ConnPrepareContext, ConnBeginTx, ExecerContext,
// QueryerContext, Pinger, SessionResetter (pgx's: a connection left in a transaction is discarded),
// Validator and NamedValueChecker (every value pgx accepts passes through, including a leading
// pgx.QueryExecMode). Its statements implement StmtExecContext and StmtQueryContext. Rows are pgx
// stdlib's, with column type information. RawConn reaches the *pgx.Conn, for CopyFrom and the like.
//
// # Limits
//
// search_path isolation is not a security boundary: SQL that names another schema explicitly
// (SELECT * FROM other.t) reads it. The existence check runs when the path is set, not on every
// statement: a schema dropped while pooled connections still have its path set resolves
// unqualified names in public until those connections change tenant, so stop routing a tenant
// before dropping it.
package driver
