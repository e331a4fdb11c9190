package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/schemaset"
)

// With --json every command prints one JSON document on stdout, the envelope: "command" (the
// command's path without "schemaset", as "tenant create"), "ok", "exit_code", "error" (null, or an
// object that carries PostgreSQL's SQLSTATE, DETAIL and HINT when the error came from the
// server), then the command's data, whose keys sit beside those (see emit). Keys and values are
// snake_case. Failures are still printed on stderr, as without --json.
//
// A command plugs in by calling a.emit(data, text) once with what it produced: emit prints text
// now, or, under --json, keeps data for the envelope that execute writes when the command ends,
// with the error it returned. A command that never calls emit still gets an envelope, without
// data, and what it prints on a.stdout is dropped under --json so that stdout stays one document.

// envelopeHead is the part of the envelope that every command shares.
type envelopeHead struct {
	Command  string     `json:"command"`
	OK       bool       `json:"ok"`
	ExitCode int        `json:"exit_code"`
	Error    *jsonError `json:"error"`
}

// jsonError is an error in the JSON: its message, and what it carries. A joined error lists its
// parts in errors; an error of one schema names it.
type jsonError struct {
	Message string `json:"message"`
	// Schema and Kind name the schema an error belongs to (a *schemaset.TargetError).
	Schema string `json:"schema,omitempty"`
	Kind   string `json:"kind,omitempty"`
	// Step and Statement say what failed in that schema, when known.
	Step      string `json:"step,omitempty"`
	Statement string `json:"statement,omitempty"`
	// SQLState, Detail, Hint and Position come from the server's error (a *pgconn.PgError).
	SQLState string `json:"sqlstate,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Position int32  `json:"position,omitempty"`
	// Errors are the parts of a joined error.
	Errors []*jsonError `json:"errors,omitempty"`
}

// newJSONError describes err for the JSON; nil for nil.
func newJSONError(err error) *jsonError {
	if err == nil {
		return nil
	}
	je := &jsonError{Message: err.Error()}
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 1 {
		for _, e := range j.Unwrap() {
			je.Errors = append(je.Errors, newJSONError(e))
		}
		return je
	}
	var te *schemaset.TargetError
	if errors.As(err, &te) {
		je.Schema, je.Kind, je.Step, je.Statement = te.Schema, string(te.Kind), te.Step, te.Statement
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		je.SQLState, je.Detail, je.Hint, je.Position = pe.Code, pe.Detail, pe.Hint, pe.Position
	}
	return je
}

// emit hands over what a command produced: without --json it prints text on stdout now; with
// --json it keeps data (a struct or map that marshals to a JSON object, or nil) for the envelope.
// Call it once per run, also when the command then fails, so that the envelope has the data.
func (a *app) emit(data any, text func(w io.Writer) error) error {
	if a.json {
		a.data = data
		return nil
	}
	if text == nil {
		return nil
	}
	return text(a.stdout)
}

// writeEnvelope writes the envelope of command to w: its head, then the fields of data.
func writeEnvelope(w io.Writer, command string, code int, err error, data any) error {
	head, merr := json.Marshal(envelopeHead{Command: command, OK: err == nil, ExitCode: code, Error: newJSONError(err)})
	if merr != nil {
		return merr
	}
	doc := head
	if data != nil {
		body, merr := json.Marshal(data)
		if merr != nil {
			return merr
		}
		body = bytes.TrimSpace(body)
		if len(body) < 2 || body[0] != '{' {
			return fmt.Errorf("json: %s's data is not an object: %s", command, body)
		}
		if inner := bytes.TrimSpace(body[1 : len(body)-1]); len(inner) > 0 {
			doc = append(append(append(head[:len(head)-1:len(head)-1], ','), inner...), '}')
		}
	}
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, werr := w.Write(out.Bytes())
	return werr
}
