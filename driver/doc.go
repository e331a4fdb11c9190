// Package driver is the pgschemas database/sql driver: schema-per-tenant PostgreSQL for every
// library built on database/sql (sqlx, bun, ent, gorm, sqlc, ...), unchanged, and the same for
// pgxpool (ConfigurePool).
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
// Every statement that an operation sends (ExecContext, QueryContext, PrepareContext, BeginTx and
// the statements of its transaction, Ping, the ExecContext and QueryContext of a prepared *sql.Stmt,
// and what RawConn's fn sends) runs with the search path
//
//	"<schema>", public, <extra search paths>, pg_temp   with a schema in the context
//	public, <extra search paths>, pg_temp               without one
//
// and only after the server has checked that the schema exists. The path is not a state of the
// session that the driver remembers and hopes is still there: each statement carries its own. The
// connection's network layer (internal/stamp) writes, in front of every statement and in the same
// flush, a prepared SELECT pg_catalog.set_config('search_path', $1, true), $2::regnamespace; the
// path it sets is local to the statement's transaction, and the cast fails (SQLSTATE 3F000) when
// the schema is missing, which aborts that transaction, so that the statement does not run. So SQL
// that changes the session's path, in any spelling (SET, set_config, a function, RESET ALL,
// PREPARE and EXECUTE, a DO block ...), affects at most the rest of its own transaction, never
// another operation; no SQL text is read to decide anything. It costs no round trip: a statement
// takes the round trips it takes with pgx stdlib, for one tenant as for many, and the server runs
// one more small prepared statement with it. pg_temp comes last, so that a temporary table of one
// tenant never shadows a tenant's table of the same name.
//
// A simple-protocol Query (an ExecContext without arguments, and what pgx sends as text: BEGIN,
// COMMIT, ...) starts with the same check and SET LOCAL search_path, which takes no snapshot, so
// that BEGIN ISOLATION LEVEL ... and SET TRANSACTION still work. Outside a transaction, the check
// runs in a transaction of its own, which also sets the session's own path to the empty path: a
// statement that the text runs after a COMMIT or ROLLBACK of its own runs outside the tenant's
// transaction, and resolves no table then, rather than another tenant's. Inside a transaction,
// the check ran when it began. In a failed transaction, where PostgreSQL runs nothing but
// ROLLBACK, nothing is added.
//
// The context of each operation is the only carrier of the tenant: database/sql may open a
// connection with a background context and hand it to any caller, so nothing is taken from Connect
// or ResetSession.
//
// Errors, each wrapped in a *SchemaError that names the schema:
//   - ErrInvalidSchemaName: the context's name is not a valid tenant schema. Nothing is sent.
//   - ErrNoTenant: Config.RequireTenant is on and the context names no schema. Nothing is sent.
//   - ErrSchemaNotFound: the schema does not exist, or no longer does. PostgreSQL would skip it in
//     silence and resolve names in public; the server refuses instead, and the statement does not
//     run.
//   - ErrSchemaMismatch: inside a transaction, a context named another schema than BeginTx's.
//     The statement does not run. A context without a schema runs in the transaction's schema.
//   - ErrConnLost: the connection failed after an Exec or Query was sent, so it may have run.
//     database/sql does not run it again elsewhere (pgx stdlib lets it, and an INSERT can then
//     run twice); the caller decides whether a retry is safe.
//
// A set that fails otherwise (a statement or lock timeout) fails the operation with a *SchemaError
// wrapping the server's error; it leaves nothing behind, since it was local to a transaction that
// failed.
//
// # Statements that refuse a transaction
//
// PostgreSQL refuses some statements inside a transaction block or a pipeline: VACUUM, CREATE
// INDEX CONCURRENTLY, REINDEX CONCURRENTLY, CREATE DATABASE, ALTER SYSTEM, DISCARD ALL. Sent in a
// tenant's context, they fail with SQLSTATE 25001, since they share the stamp's transaction. Run
// them with Standalone(ctx): the session's own path is set and checked in a round trip of its own,
// then the statement goes alone. Standalone needs a direct connection (not pooler mode).
//
// # Poolers
//
// Behind a pooler in transaction mode (PgBouncer's pool_mode=transaction, RDS Proxy, and the like),
// each transaction of a client connection runs on whatever server session is free. Every
// statement carrying its own path works there as it is; set Config.Pooler to PoolTransaction, or
// pgschemas_pooler=transaction in the DSN, for what else such a pooler needs:
//   - pgx runs in QueryExecModeExec (QueryExecModeSimpleProtocol when the DSN asks for it), with
//     its statement and description caches off, and the stamp's statement is parsed with each use,
//     as the unnamed statement: Debian 12's PgBouncer (1.18) does not track protocol-level prepared
//     statements, so nothing prepared may outlive a statement. (Before a statement that binds the
//     unnamed statement pgx parsed earlier, as describe_exec does, the stamp is parsed under a name
//     of its own instead, after a Close of that name, and then stays in that server session.)
//     Parsing it with each use is also what keeps it safe there: a statement prepared once would
//     stay in server sessions that every client of the pooler shares, and any of them could
//     DEALLOCATE it and PREPARE a statement of its own under its name, which the next Bind of it
//     would run instead of the set.
//   - Nothing is set in a server session: the session's own path is not touched.
//   - A context that ends while a statement runs closes the connection without a cancel request.
//     pgconn sends one by default when it closes a connection whose context ended, and PgBouncer
//     1.18 can exit when such a request meets a server connection that was terminated
//     (pgbouncer/pgbouncer#822, #801).
//
// Session state (SET, LISTEN, advisory locks, temporary tables) does not survive behind a
// transaction pooler, with any driver.
//
// # Strict mode
//
// search_path decides where unqualified names resolve, not what SQL may reach: in the modes above,
// SELECT * FROM other.users reads another tenant. Strict mode (Config.Strict, or
// pgschemas_strict=on in the DSN) makes that fail with permission denied (SQLSTATE 42501). Each
// tenant schema has its own NOLOGIN role, named TenantRole(schema), with USAGE on its schema, on
// public and on the extra search paths, every privilege on its own tables and sequences, SELECT on
// public's tables, and no TEMP privilege on the database. The engine creates, grants and drops
// these roles with the tenants (pgschemas.hcl: strict = true, strict_login_role = "<the app's
// login role>"), and grants each one to the login role, so that the login role may SET ROLE to it.
//
//   - Every statement runs as its tenant's role: the stamp also sets the role, local to the
//     statement's transaction (set_config('role', $3, true), or SET LOCAL ROLE in a Query).
//     PostgreSQL does not report a change of role to the client, so the driver cannot trust a role
//     it set before: a RESET ROLE, SET ROLE or set_config('role', ...) that user SQL runs lasts
//     until the end of that statement's transaction at most.
//   - Without a tenant in the context, statements run as the login role itself (role none).
//   - A schema whose role is missing, or that the login role may not SET ROLE to, fails with
//     ErrTenantRole: run the engine's apply. The statement does not run.
//   - Connect checks the login role, and refuses one that can escape the tenant roles with
//     ErrStrictUnsafe: a superuser; a role that inherits (INHERIT, the default: it would hold every
//     tenant role's rights without SET ROLE; make it NOINHERIT); a role that owns, or may SET ROLE
//     to the owner of, a schema other than public and the system schemas. Give the app a login
//     role of its own, apart from the role that runs the engine.
//
// What strict mode does not stop: the login role is a member of every tenant role, and PostgreSQL
// checks SET ROLE against the login role (the session user), not against the current role. So SQL
// that changes the role itself runs with another tenant's rights: "SET ROLE pgschemas_t_other;
// SELECT * FROM other.users" in one text, or set_config('role', 'pgschemas_t_other', true) in a
// select list or in a function, reads the other tenant; "RESET ROLE; ..." runs as the login role.
// Strict mode confines the SQL that runs in a tenant's context, not SQL written to leave it: a
// statement sent with arguments cannot carry a second statement, so an injected clause in it runs
// as the tenant, but a set_config in a select list can still switch roles. For SQL you do not
// trust, the boundary is a login role per tenant: a role that is a member of that tenant's role
// alone, connecting with its own pool.
//
// # Statement caches
//
// pgx caches prepared statements and result descriptions by SQL text (QueryExecModeCacheStatement,
// the default, and QueryExecModeCacheDescribe). Tenants whose tables differ in shape must not share
// those entries, so in those modes a tenant's SQL is sent with a leading comment that names the
// schema: "/* pgschemas:acme */ SELECT ...". Each schema gets its own entries, planned in its own
// path, and the cache holds (statements x tenants per connection): raise statement_cache_capacity
// (default 512) for many tenants per connection, or choose default_query_exec_mode=exec, which
// caches nothing. A *sql.Stmt prepares nothing that outlives PrepareContext; each execution runs
// through the cache in the schema of its own context, so one *sql.Stmt serves every tenant. A
// statement of pgx's cache that SQL deallocated (DEALLOCATE ALL) is prepared again, in the same
// flush and the tenant's path, before its next use. A statement that tenants share all the same
// (one prepared without a tenant, or by pgx.Conn through RawConn) gets a copy per tenant on the
// server, as with pgxpool: see Config.MaxStatementCopies.
//
// # Backend memory
//
// A PostgreSQL backend keeps the catalog entries of every table it has touched, and never gives
// that memory back: about 130 kB for each tenant of 10 tables. A connection that serves every
// tenant of a large database would grow without bound. So a connection is retired once it has
// served Config.MaxTenantsPerConn distinct schemas (DSN pgschemas_max_tenants_per_conn; default
// DefaultMaxTenantsPerConn): database/sql closes it when it comes back to the pool (Validator,
// SessionResetter), and opens another when needed.
//
// # Interfaces
//
// The connection implements driver.Conn, ConnPrepareContext, ConnBeginTx, ExecerContext,
// QueryerContext, Pinger, SessionResetter (pgx's, and a connection that served
// MaxTenantsPerConn schemas is discarded), Validator and NamedValueChecker (every value pgx
// accepts passes through, including a leading pgx.QueryExecMode). Its statements implement
// StmtExecContext and StmtQueryContext. Rows are pgx stdlib's. RawConn reaches the *pgx.Conn, for
// CopyFrom and the like.
//
// # Limits
//
// search_path isolation is not a security boundary: SQL that names another schema explicitly
// (SELECT * FROM other.t) reads it, unless strict mode is on (see Strict mode). In one text of
// several statements (an Exec without arguments), the statements share a transaction: SQL in it
// that changes the path changes it for the statements after it in that text, and statements after
// a COMMIT or ROLLBACK in it run without the tenant's path (in the empty path on a direct
// connection; in the server session's own path behind a pooler). The existence check sees the
// catalog as the statement starts: a schema dropped while a statement runs is the server's
// business, as with any concurrent DDL.
package driver
