package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"

	"github.com/pgschemas/pgschemas/apps"
)

// stepError says which one-time step failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// runSteps runs the target's pending one-time steps, in app order and then step order, and records
// them. The search path is already the target's.
//
// Steps exist to carry data across a change that a diff cannot express (a rename). A schema that
// has never had an app gets that app's tables straight from the desired state, so its steps are
// recorded as done without running: there is no old data to carry.
//
// check says whether tx is still open (pgTx.check); a run that would run a step without it fails.
func (e *Engine) runSteps(ctx context.Context, tx *sql.Tx, check func(context.Context) error, t Target, rec record) ([]string, error) {
	pending, err := e.pendingSteps(ctx, tx, t, rec)
	if err != nil {
		return nil, err
	}
	return runPending(ctx, tx, check, pending, t.Schema)
}

// pendingStep is a step of the target's apps that is not recorded yet.
type pendingStep struct {
	app  string
	step apps.Step
	// run is false for a step of an app the schema did not have: it is recorded without running.
	run bool
}

func (p pendingStep) id() string { return p.app + "/" + p.step.Name }

// pendingSteps returns the target's steps that are not recorded, in app order and then step order.
func (e *Engine) pendingSteps(ctx context.Context, tx *sql.Tx, t Target, rec record) ([]pendingStep, error) {
	done, err := doneSteps(ctx, tx, t.Schema)
	if err != nil {
		return nil, err
	}
	var out []pendingStep
	for _, name := range e.set.AppsOf(t) {
		a, _ := e.set.Apps.App(name)
		had := rec.exists && slices.Contains(rec.apps, name)
		for _, st := range a.Steps {
			if p := (pendingStep{app: name, step: st, run: had}); !done[p.id()] {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// runPending runs the steps of pending that are to run, in order, and returns them as
// "app/step". With record (not empty), it records each step of pending as done for that schema;
// a plan, which records nothing, passes "".
func runPending(ctx context.Context, tx *sql.Tx, check func(context.Context) error, pending []pendingStep, record string) ([]string, error) {
	var ran []string
	for _, p := range pending {
		if p.run {
			if err := runStep(ctx, tx, check, p.step, ran); err != nil {
				return ran, &stepError{step: p.id(), err: err}
			}
			ran = append(ran, p.id())
		}
		if record == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO public.pgschemas_step (schema_name, app, step) VALUES ($1, $2, $3)`,
			record, p.app, p.step.Name); err != nil {
			return ran, &stepError{step: p.id(), err: err}
		}
	}
	return ran, nil
}

// runStep runs a step statement by statement, as the parser splits it, and checks after each that
// the transaction is still open. A failure is an *apps.Error with the step's file and line. A
// statement after which the transaction is no longer open (which the loader's parser refuses, so
// only a statement the server reads otherwise could do it) stops the schema: the error says that
// what ran before it in the schema's transaction (ran, then this step's earlier statements, and
// the schema's creation) may have been committed, and nothing runs after it.
func runStep(ctx context.Context, tx *sql.Tx, check func(context.Context) error, st apps.Step, ran []string) error {
	if check == nil {
		return errors.New("schemaset: a step runs only in a transaction whose status is checked")
	}
	stmts, err := st.Statements()
	if err != nil {
		return err
	}
	return execChecked(ctx, tx, check, st, stmts, ran)
}

// execChecked runs a step's statements, checking the transaction after each (see runStep); an
// error of check other than apps.ErrTransactionEnded (a plan's, see planLive) is located at the
// statement as it is.
func execChecked(ctx context.Context, tx *sql.Tx, check func(context.Context) error, st apps.Step, stmts []apps.Statement, ran []string) error {
	for i, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.Text); err != nil {
			return st.Locate(s, err)
		}
		if err := check(ctx); err != nil {
			if errors.Is(err, apps.ErrTransactionEnded) {
				err = fmt.Errorf("%w; what ran before it in this schema's transaction may be committed "+
					"(steps %v, and statements 1 to %d of this step), and nothing ran after it", err, ran, i)
			}
			return st.Locate(apps.Statement{Line: s.Line}, err)
		}
	}
	return nil
}

// doneSteps returns the steps recorded for a schema, as "app/step".
func doneSteps(ctx context.Context, tx *sql.Tx, name string) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT app || '/' || step FROM public.pgschemas_step WHERE schema_name = $1`, name)
	if err != nil {
		return nil, fmt.Errorf("read the recorded steps: %w", err)
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		done[id] = true
	}
	return done, rows.Err()
}

// destructive describes the changes that can lose data: dropped tables, columns and types, and
// column type changes other than a safe widening.
func destructive(changes schema.Changes) []string {
	var out []string
	for _, c := range changes {
		switch c := c.(type) {
		case *schema.DropTable:
			out = append(out, fmt.Sprintf("drop table %s", c.T.Name))
		case *schema.DropObject:
			if e, ok := c.O.(*schema.EnumType); ok {
				out = append(out, fmt.Sprintf("drop type %s", e.T))
			}
		case *schema.ModifyObject:
			if from, ok := c.From.(*schema.EnumType); ok {
				if to, ok := c.To.(*schema.EnumType); ok {
					for _, v := range from.Values {
						if !slices.Contains(to.Values, v) {
							out = append(out, fmt.Sprintf("remove value %q from type %s", v, from.T))
						}
					}
				}
			}
		case *schema.ModifyTable:
			for _, tc := range c.Changes {
				switch tc := tc.(type) {
				case *schema.DropColumn:
					out = append(out, fmt.Sprintf("drop column %s.%s", c.T.Name, tc.C.Name))
				case *schema.ModifyColumn:
					if tc.Change.Is(schema.ChangeType) && !widening(tc.From.Type.Type, tc.To.Type.Type) {
						out = append(out, fmt.Sprintf("change type of column %s.%s from %s to %s",
							c.T.Name, tc.From.Name, typeString(tc.From.Type.Type), typeString(tc.To.Type.Type)))
					}
				}
			}
		}
	}
	return out
}

// widening reports whether every value of from fits in to unchanged.
func widening(from, to schema.Type) bool {
	rank := map[string]int{"smallint": 1, "integer": 2, "bigint": 3}
	switch f := from.(type) {
	case *schema.IntegerType:
		if t, ok := to.(*schema.IntegerType); ok {
			return rank[f.T] > 0 && rank[f.T] <= rank[t.T]
		}
		if t, ok := to.(*schema.DecimalType); ok {
			return t.Precision == 0
		}
	case *schema.StringType:
		if t, ok := to.(*schema.StringType); ok {
			return t.T == "text" || (t.T == f.T && (t.Size == 0 || t.Size >= f.Size) && f.Size != 0)
		}
	case *schema.FloatType:
		if t, ok := to.(*schema.FloatType); ok {
			return f.T == t.T || t.T == "double precision"
		}
	}
	return false
}

func typeString(t schema.Type) string {
	s, err := postgres.FormatType(t)
	if err != nil {
		return fmt.Sprintf("%T", t)
	}
	return s
}
