package apps

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// stmt is one statement of a file: its byte offset in the file and its text, from its first token.
type stmt struct {
	Pos  int
	Text string
}

// lineAt returns the 1-based line of the byte offset off in text.
func lineAt(text string, off int) int {
	off = min(max(off, 0), len(text))
	return 1 + strings.Count(text[:off], "\n")
}

// charOffset converts a 1-based character position, as PostgreSQL reports it in an error, into
// a byte offset of text. PostgreSQL counts characters, not bytes.
func charOffset(text string, pos int) int {
	off := 0
	for i := 1; i < pos && off < len(text); i++ {
		_, n := utf8.DecodeRuneInString(text[off:])
		off += n
	}
	return off
}

// execSQL runs a SQL file statement by statement, so that an error the server reports without a
// position still points at its statement. The search_path is set again first, in case an earlier
// file changed it.
func (m *materializer) execSQL(ctx context.Context, app string, f File) error {
	text := string(f.Data)
	stmts, err := statements(app, f.Path, text, false)
	if err != nil {
		return err
	}
	if err := m.setPath(ctx, m.schema); err != nil {
		return err
	}
	return m.execStmts(ctx, app, f.Path, text, stmts)
}

// execStmts runs the statements of a file, checking after each that the transaction is open.
func (m *materializer) execStmts(ctx context.Context, app, file, text string, stmts []stmt) error {
	for _, s := range stmts {
		if _, err := m.tx.ExecContext(ctx, s.Text); err != nil {
			return &Error{App: app, File: file, Line: errorLine(text, s, err), Err: WithDetail(err)}
		}
		if err := m.inTx(ctx); err != nil {
			return &Error{App: app, File: file, Line: lineAt(text, s.Pos), Err: err}
		}
	}
	return nil
}

// ErrTransactionEnded is wrapped by the error of a statement after which the connection was no
// longer inside the caller's transaction: it ended it (or the server saw a statement that the
// parser did not), so that what ran before it may have been committed. Nothing runs after it.
var ErrTransactionEnded = errors.New("the statement ended the engine's transaction")

// TxStatuser is a transaction that reports its connection's transaction status, as pgconn's
// TxStatus does from the server's last ReadyForQuery: 'T' in a transaction, 'E' in a failed one,
// 'I' idle (outside any), 0 unknown.
type TxStatuser interface {
	TxStatus() byte
}

// inTx fails with ErrTransactionEnded unless the connection is still inside the transaction that
// Materialize started in.
func (m *materializer) inTx(ctx context.Context) error {
	if s, ok := m.tx.(TxStatuser); ok {
		if st := s.TxStatus(); st != 0 {
			if st != 'T' {
				return fmt.Errorf("%w: transaction status %q after it, want 'T'", ErrTransactionEnded, st)
			}
			return nil
		}
	}
	var xid string
	if err := queryRow(ctx, m.tx, `SELECT coalesce(pg_catalog.pg_current_xact_id_if_assigned()::text, '')`, nil, &xid); err != nil {
		return fmt.Errorf("%w: %w", ErrTransactionEnded, err)
	}
	if xid != m.xid {
		return fmt.Errorf("%w: the connection is in transaction %q after it, not in %s", ErrTransactionEnded, xid, m.xid)
	}
	return nil
}

// errorLine returns the line of text at which statement s failed with err: the server's error
// position when it reports one; else the first line of the statement that names the object the
// message quotes (PostgreSQL gives no position for `relation "userz" does not exist` in a
// REFERENCES clause); else the statement's first line.
func errorLine(text string, s stmt, err error) int {
	start := s.Pos
	// Make sure start is where the statement's text is in the file.
	if i := strings.Index(text[min(start, len(text)):], s.Text); i >= 0 {
		start += i
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return lineAt(text, start+leadingSpace(s.Text))
	}
	if pgErr.Position > 0 {
		return lineAt(text, start+charOffset(s.Text, int(pgErr.Position)))
	}
	if name := quotedName(pgErr.Message); name != "" {
		re := regexp.MustCompile(`(?i)(^|[^a-z0-9_$])"?` + regexp.QuoteMeta(name) + `"?($|[^a-z0-9_$])`)
		if loc := re.FindStringIndex(s.Text); loc != nil {
			return lineAt(text, start+loc[0]+leadingSpace(s.Text[loc[0]:]))
		}
	}
	return lineAt(text, start+leadingSpace(s.Text))
}

// quotedName returns the first double-quoted name in a server message, or "".
func quotedName(msg string) string {
	_, rest, ok := strings.Cut(msg, `"`)
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return ""
	}
	return name
}

// leadingSpace returns the length of s's leading white space.
func leadingSpace(s string) int { return len(s) - len(strings.TrimLeft(s, " \t\r\n")) }
