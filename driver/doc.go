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
// In session mode (the default), it costs no round trip when the connection already has that path,
// and one when it changes: one statement both sets the path and checks that the schema exists. In
// pooler mode (see Poolers), each statement carries its own path in its own round trip. The context
// of each operation is the only carrier of the tenant: database/sql may open a connection with a
// background context and hand it to any caller, so nothing is taken from Connect or ResetSession.
//
// Errors, each wrapped in a *SchemaError that names the schema:
//   - ErrInvalidSchemaName: the context's name is not a valid tenant schema. Nothing is sent.
//   - ErrSchemaNotFound: the schema does not exist. PostgreSQL would skip it in silence and resolve
//     names in public; the driver refuses instead, and the statement does not run.
//   - ErrSchemaMismatch: inside a transaction, a context named another schema than BeginTx's.
//     The statement does not run. A context without a schema runs in the transaction's schema.
//   - ErrConnLost: the connection failed after an Exec or Query was sent, so it may have run.
//     database/sql does not run it again elsewhere (pgx stdlib lets it, and an INSERT can then
//     run twice); the caller decides whether a retry is safe.
//
// Transactions are bound to their schema at BeginTx, which in session mode sets the path before
// BEGIN so that no rollback can undo it. A path the driver had to set inside a server transaction (a BEGIN sent as
// plain SQL on a *sql.Conn) is never remembered, since ROLLBACK or ROLLBACK TO SAVEPOINT can undo
// it unseen. Statements whose text names search_path, RESET ALL or DISCARD ALL also make the
// driver set the path again before the next one. A SET that fails, times out or is cancelled
// leaves the path unknown: the next operation sets it again, and a connection that broke is
// discarded (driver.ErrBadConn, only where the server cannot have run the operation).
//
// # Poolers
//
// Behind a pooler in transaction mode (PgBouncer's pool_mode=transaction, RDS Proxy, and the like),
// each transaction of a client connection runs on whatever server session is free, shared with
// other clients, and nothing set in a session follows the client. Session mode leaks there: its
// SET lands on one server session, the statement after it may run on another, which another client
// left in another tenant's path. (TestSessionModeLeaksBehindPgBouncer shows it within a few
// operations.) Set Config.Pooler to PoolTransaction, or pgschemas_pooler=transaction in the DSN:
//
//   - Every statement is sent right after
//     SELECT set_config('search_path', $1, true), $2::regnamespace
//     in the same round trip. It sets the path until the end of the current transaction only, and
//     fails when the schema does not exist (ErrSchemaNotFound), which aborts the transaction so that
//     the statement after it does not run. A SET that fails otherwise (statement or lock timeout)
//     stops the statement the same way, and leaves nothing behind.
//   - Outside a transaction, the two statements end with one Sync, and PostgreSQL runs what a Sync
//     ends as one implicit transaction: the pooler keeps one server session for both, the path
//     ends with the statement, and an error leaves no transaction open. No BEGIN or COMMIT is sent.
//     An Exec without arguments goes as one simple-protocol Query message, as pgx sends it, and may
//     hold several statements.
//   - BeginTx sends BEGIN and the set in one round trip; then each statement of the transaction
//     sends the set again, so that no SQL it runs (SET LOCAL, ROLLBACK TO SAVEPOINT, COMMIT AND
//     CHAIN) leaves a later statement without the path. In a failed transaction, where PostgreSQL
//     runs nothing but ROLLBACK, the statement goes alone.
//   - PrepareContext pipelines an unnamed prepare after the set; PingContext sends the set alone.
//     RawConn runs fn in a transaction begun with the path, committed when fn returns nil.
//   - Nothing is cached, and nothing is left in the server session: a statement costs one round
//     trip, as with plain pgx, for one tenant as for many, with one more statement on the wire.
//
// The pooler mode runs pgx's QueryExecModeExec. Debian 12's PgBouncer (1.18) does not track
// protocol-level prepared statements: a statement that pgx prepared by name in one transaction
// does not exist in the server session of the next, which rules out QueryExecModeCacheStatement.
// QueryExecModeCacheDescribe and QueryExecModeDescribeExec describe a statement before it runs:
// that describe, or the cached description, resolves the statement's names outside the tenant's
// transaction, in whatever path the server session has, and a description cached for one tenant
// would decode another's rows. QueryExecModeExec sends Parse, Bind, Describe and Execute of the
// unnamed statement right after the set, in the tenant's transaction, with parameters encoded as
// text (the server infers their types) and results in text: nothing outlives the statement, so no plan or description
// can pass from one tenant to another, with PgBouncer 1.18 or with a pooler that shares prepared
// statements (PgBouncer 1.21 and later). default_query_exec_mode=simple_protocol is kept (the set
// and the statement then go in one Query message); any other mode is replaced by exec, and pgx's
// statement and description caches are off, so that a RawConn fn asking for a cached mode gets
// pgx's error rather than a shared plan. A leading pgx.QueryExecMode or result-format argument is
// accepted and ignored. QueryExecModeExec's own limits apply: pgx refuses an argument whose
// encoding its Go type does not settle (a map[string]string could be json or hstore).
//
// Limits of the pooler mode: a statement that PostgreSQL refuses inside a transaction block or a
// pipeline (VACUUM, CREATE INDEX CONCURRENTLY, CREATE DATABASE) fails with its error; run it
// without the pooler mode, with schema-qualified names. In an Exec of several statements, those
// after a COMMIT in it run without the tenant's path. Session state (SET, LISTEN, advisory locks,
// temporary tables) does not survive behind a transaction pooler, with any driver. PgBouncer 1.18
// can exit on a cancel request whose client hangs up early (pgbouncer/pgbouncer#801); pgx's
// default, which closes the connection when a context ends, sends none, but its
// CancelRequestContextWatcherHandler does.
//
// # Strict mode
//
// search_path decides where unqualified names resolve, not what SQL may reach: in the modes above,
// SELECT * FROM other.users reads another tenant. Strict mode (Config.Strict, or
// pgschemas_strict=on in the DSN) makes that fail with permission denied (SQLSTATE 42501). Each
// tenant schema has its own NOLOGIN role, named TenantRole(schema), with USAGE on its schema, on
// public and on the extra search paths, every privilege on its own tables and sequences, and
// SELECT on public's tables. The engine creates, grants and drops these roles with the tenants
// (pgschemas.hcl: strict = true, strict_login_role = "<the app's login role>"), and grants each one
// to the login role, so that the login role may SET ROLE to it.
//
//   - Every statement runs as its tenant's role: it is sent right after
//     SELECT set_config('search_path', $1, true), $2::regnamespace, set_config('role', $3, true)
//     in the same round trip and transaction, on the pooler mode's machinery (see Poolers: strict
//     mode runs so, with QueryExecModeExec, whatever Pooler says, and combines with
//     PoolTransaction). PostgreSQL does not report a change of role to the client, so the driver
//     cannot trust a role it set before: it sets role and path with each statement, and a RESET
//     ROLE, SET ROLE or set_config('role', ...) that user SQL runs lasts until the end of that
//     statement's transaction at most. The next statement runs as its tenant's role again.
//   - Without a tenant in the context, statements run as the login role itself (role none).
//   - A schema whose role is missing, or that the login role may not SET ROLE to, fails with
//     ErrTenantRole: run the engine's apply. The statement does not run.
//   - Connect checks the login role, and refuses one that can escape the tenant roles with
//     ErrStrictUnsafe: a superuser; a role that inherits (INHERIT, the default: it would hold every
//     tenant role's rights without SET ROLE; make it NOINHERIT); a role that owns, or may SET ROLE
//     to the owner of, a schema other than public and the system schemas. Give the app a login
//     role of its own, apart from the role that runs the engine.
//
// What strict mode does not stop: SQL runs with the login role's own rights wherever user SQL
// changes the role itself, since any role may RESET ROLE, and SET ROLE to any role it is a member
// of. A string of several statements, which Exec without arguments sends as one Query message,
// runs after the set as one transaction: "SET ROLE pgschemas_t_other; SELECT * FROM other.users"
// reads the other tenant, because the login role is a member of every tenant role; "RESET ROLE;
// ..." runs as the login role, which should have no rights on tenant schemas. So strict mode
// confines the SQL that runs in a tenant's context, not SQL that sets the role itself: a statement
// sent with arguments (the extended protocol, one statement per message) cannot carry a second
// statement, so an injected clause in it runs as the tenant; text sent without arguments, or in
// the simple protocol, can stack statements, SET ROLE among them. Statements after a COMMIT inside such a string run
// as the session's role, the login role unless the string set another. The roles belong to the
// cluster, not to a database: a tenant of the same name in two databases of one cluster has one
// role, with rights in both; that is harmless when one login role serves both databases, which
// already reaches both. Strict mode is for database/sql: ConfigurePool refuses pgschemas_strict,
// since pgx has no hook per statement.
//
// # Statement caches
//
// In session mode, pgx caches prepared statements and result descriptions by SQL text (QueryExecModeCacheStatement,
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
// stdlib's in session mode; in pooler mode they are the driver's own, with the values and column
// type information (RowsColumnTypeDatabaseTypeName, Length, PrecisionScale, ScanType) of pgx
// stdlib's. RawConn reaches the *pgx.Conn, for CopyFrom and the like.
//
// # Limits
//
// search_path isolation is not a security boundary: SQL that names another schema explicitly
// (SELECT * FROM other.t) reads it, unless strict mode is on (see Strict mode). In session mode, the existence check runs when the path is
// set, not on every statement: a schema dropped while pooled connections still have its path set
// resolves unqualified names in public until those connections change tenant, so stop routing a
// tenant before dropping it. (In pooler mode, it runs with every statement.)
package driver
