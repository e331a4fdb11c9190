package apps

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
)

// Kind is the language of an app file.
type Kind int

// The kinds of app files. The zero Kind is invalid, so that a File built in Go without a Kind is
// rejected rather than guessed.
const (
	// KindHCL is an Atlas HCL file (*.hcl) of table and enum blocks.
	KindHCL Kind = iota + 1
	// KindSQL is a PostgreSQL DDL file (*.sql), run as it is.
	KindSQL
)

// String returns "HCL" or "SQL".
func (k Kind) String() string {
	switch k {
	case KindHCL:
		return "HCL"
	case KindSQL:
		return "SQL"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// File is one declaration file of an app.
type File struct {
	// Path is the slash-separated path relative to the apps root, e.g. "auth/users.hcl".
	Path string
	// Kind says how the file is materialised; it agrees with the extension of Path.
	Kind Kind
	// Data is the file's content.
	Data []byte
}

// Step is a one-time SQL step of an app (steps/NNNN_name.sql), such as a data migration. The
// engine runs each step once per schema; this package only loads and checks it.
type Step struct {
	// App is the name of the app that owns the step.
	App string
	// Name is the file name without ".sql", e.g. "0001_rename_title".
	Name string
	// Path is the slash-separated path relative to the apps root, e.g. "blog/steps/0001_rename_title.sql".
	Path string
	// SQL is the step's text.
	SQL string
}

// App is a named set of declarations: the tables (and enums, indexes, constraints, sequences of
// their columns) that a schema which takes the app must have.
type App struct {
	// Name is the app's folder name.
	Name string
	// Files are the declaration files, sorted by Path.
	Files []File
	// Steps are the one-time steps, sorted by Name.
	Steps []Step
}

// Fingerprint returns a stable hex SHA-256 of the app's name, files (paths, kinds and bytes) and
// steps. It changes when any byte of them changes, so the engine can tell whether a schema is
// already at the state these apps declare.
func (a *App) Fingerprint() string {
	h := sha256.New()
	// Each field is length-prefixed, so that moving bytes from one field to the next changes the sum.
	field := func(s string) { writeField(h, []byte(s)) }
	field("pgschemas app v1")
	field(a.Name)
	for _, f := range a.Files {
		field("file")
		field(f.Path)
		field(f.Kind.String())
		writeField(h, f.Data)
	}
	for _, s := range a.Steps {
		field("step")
		field(s.App)
		field(s.Name)
		field(s.Path)
		field(s.SQL)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField writes b to h behind its length.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// Statement is one statement of a step, as PostgreSQL's parser splits it.
type Statement struct {
	// Line is the 1-based line of the statement's first word in the step's file.
	Line int
	// Text is the statement's text, from its first word (a position the server reports in an
	// error counts from there).
	Text string
	pos  int
}

// Statements splits the step's SQL into statements and checks them, as Load does: the engine
// runs them one at a time and checks after each that its transaction is still open.
func (s Step) Statements() ([]Statement, error) {
	stmts, err := statements(s.App, s.Path, s.SQL, true)
	if err != nil {
		return nil, err
	}
	out := make([]Statement, len(stmts))
	for i, st := range stmts {
		out[i] = Statement{Line: lineAt(s.SQL, st.Pos), Text: st.Text, pos: st.Pos}
	}
	return out, nil
}

// Locate returns err, the failure of statement st of the step, as an *Error with the step's app,
// file and line: the server's error position when it gives one, else the statement's line.
func (s Step) Locate(st Statement, err error) *Error {
	line := st.Line
	if st.Text != "" {
		line = errorLine(s.SQL, stmt{Pos: st.pos, Text: st.Text}, err)
	}
	return &Error{App: s.App, File: s.Path, Line: line, Err: WithDetail(err)}
}
