package apps

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnmanaged is wrapped by the errors of Materialize for objects that the engine cannot manage:
// objects outside the kinds that Atlas' open-source PostgreSQL driver inspects and re-creates
// identically, objects an app created outside its schema, and names with the reserved prefix.
var ErrUnmanaged = errors.New("pgschemas cannot manage this")

// ErrInvalidApp is wrapped by the errors that reject an app's files: an unexpected file or folder,
// a bad app or step name, HCL that does not parse or uses a block or attribute that apps may not
// use, and SQL that controls the transaction.
var ErrInvalidApp = errors.New("invalid app")

// Error locates a problem in an app. It keeps its cause for errors.Is and errors.As (for example
// ErrInvalidApp, ErrUnmanaged, or the *pgconn.PgError of a failed statement).
type Error struct {
	// App is the app's name; empty for a file of the apps root that belongs to no app.
	App string
	// File is the file's path relative to the apps root; empty when the problem has no one file.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Err is the cause.
	Err error
}

// Error returns, for example,
// `app "tenant": tenant/notes.sql:3: ERROR: relation "userz" does not exist (SQLSTATE 42P01)`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.App != "" {
		fmt.Fprintf(&b, "app %q: ", e.App)
	}
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Err == nil {
		b.WriteString("unknown error")
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// invalid returns an *Error that wraps ErrInvalidApp with a formatted reason (which may wrap more).
func invalid(app, file string, line int, format string, args ...any) *Error {
	return &Error{App: app, File: file, Line: line, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidApp}, args...)...)}
}

// unmanaged returns an *Error that wraps ErrUnmanaged with a formatted reason (which may wrap more).
func unmanaged(o origin, format string, args ...any) *Error {
	return &Error{App: o.app, File: o.file, Err: fmt.Errorf("%w: "+format, append([]any{ErrUnmanaged}, args...)...)}
}

// origin is the app and file that declared an object.
type origin struct{ app, file string }

// ServerError is PostgreSQL's error of a statement, written with its DETAIL and HINT, which the
// text of *pgconn.PgError leaves out (a duplicate key's value, say). Its fields are the
// PgError's (Code, Detail, Hint, Position, ...), and errors.As still finds the *pgconn.PgError.
type ServerError struct {
	*pgconn.PgError
}

// Error returns the PgError's text, then "DETAIL: ..." and "HINT: ..." on lines of their own, as
// psql writes them.
func (e *ServerError) Error() string {
	var b strings.Builder
	b.WriteString(e.PgError.Error())
	if e.Detail != "" {
		b.WriteString("\nDETAIL: " + e.Detail)
	}
	if e.Hint != "" {
		b.WriteString("\nHINT: " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the *pgconn.PgError.
func (e *ServerError) Unwrap() error { return e.PgError }

// WithDetail returns err as a *ServerError when it is a *pgconn.PgError, and err otherwise.
func WithDetail(err error) error {
	if pe, ok := err.(*pgconn.PgError); ok {
		return &ServerError{PgError: pe}
	}
	return err
}
