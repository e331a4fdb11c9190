package schemaset

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/apps"
)

// ErrorDetail is an error as data, for a JSON report: its text, and what its chain holds: the step
// and statement of a *TargetError, the app, file and line of an *apps.Error, and the SQLSTATE,
// DETAIL, HINT and position (a 1-based character of the statement) of a *pgconn.PgError.
type ErrorDetail struct {
	Message   string `json:"message"`
	Step      string `json:"step,omitempty"`
	Statement string `json:"statement,omitempty"`
	App       string `json:"app,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Code      string `json:"code,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Hint      string `json:"hint,omitempty"`
	Position  int    `json:"position,omitempty"`
}

// DetailOf returns err's ErrorDetail; nil for a nil error. Of a joined error, the first error of
// each kind in the chain gives its fields.
func DetailOf(err error) *ErrorDetail {
	if err == nil {
		return nil
	}
	d := &ErrorDetail{Message: err.Error()}
	var te *TargetError
	if errors.As(err, &te) {
		d.Step, d.Statement = te.Step, te.Statement
	}
	var ae *apps.Error
	if errors.As(err, &ae) {
		d.App, d.File, d.Line = ae.App, ae.File, ae.Line
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		d.Code, d.Detail, d.Hint, d.Position = pe.Code, pe.Detail, pe.Hint, int(pe.Position)
	}
	return d
}
