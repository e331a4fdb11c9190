// Package stamp puts a tenant's search path (and, in strict mode, its role) in front of every
// statement that pgx sends, at the level of the PostgreSQL wire protocol, in the same flush and the
// same transaction as the statement.
//
// A Conn wraps the net.Conn of one pgx connection (pgconn.Config.AfterNetConnect). Once armed,
// its writer reads the frontend messages that pgx writes, and
//   - before the first Parse, Bind, Describe or Close of each statement of the extended protocol
//     (at the start of a Sync-delimited segment, and again after each Execute), it writes a Bind
//     and an Execute of the prepared statement
//     SELECT pg_catalog.set_config('search_path', $1, true), $2::pg_catalog.regnamespace
//     (with ", pg_catalog.set_config('role', $3, true)" in strict mode), preceded by a Close and a
//     Parse of it when the server may not hold it;
//   - it rewrites a simple-protocol Query so that its text starts with SET LOCAL search_path (and
//     SET LOCAL ROLE), which take no snapshot, so that BEGIN ISOLATION LEVEL and SET TRANSACTION
//     still work after them; outside a transaction, the text first checks the schema and sets the
//     session's own path to the empty path, in a transaction of its own that it commits, so that a
//     statement the text runs after a COMMIT or ROLLBACK of its own resolves no tenant's tables
//     (see Set);
//   - before a Bind of a statement of pgx's that the server dropped since pgx prepared it
//     (DEALLOCATE, DISCARD), it prepares it again, after the set, from the Parse it kept.
//
// Its reader removes the responses to what the writer added: the rows and command tags of the
// set, and its Parse, Bind and Close completions. It keeps the server's own verdicts: an error of
// the set (a missing schema: SQLSTATE 3F000; a role that cannot be set) goes to pgx as the
// statement's error, since the server then runs nothing up to the Sync, and the Conn records it
// (TakeSetError) for the caller to explain. It reads the transaction status of each
// ReadyForQuery: in a failed transaction, where the server runs nothing but ROLLBACK, nothing is
// added. A command tag of DEALLOCATE or DISCARD makes the writer prepare the set, and pgx's
// statements, again.
//
// The reader checks that the server's answers stay in step with what was sent: a ReadyForQuery
// that no Sync or Query waits for, or a statement's message when nothing waits at all, would give
// one operation another one's results, so every read then fails with ErrOutOfStep and pgx closes
// the connection. A Query text that holds no statement gets the EmptyQueryResponse that the server
// sends for it without a stamp.
//
// Nothing here reads SQL text to decide anything: the server decides, with every statement, in the
// transaction that runs it.
package stamp
