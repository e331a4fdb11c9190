package apps

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"github.com/jackc/pgx/v5/pgconn"
)

// ReservedPrefix starts every name that the engine owns; apps may not declare such names.
const ReservedPrefix = "pgschemas_"

// schemaNameRE is the form of a scratch schema name: a plain identifier, so that it can also be
// written as an HCL reference (schema.NAME).
var schemaNameRE = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]{0,62}$`)

// Materialize creates, in the existing empty schema schemaName, every object that the apps
// declare, app after app in the order given, inside tx. The caller owns the transaction and always
// rolls it back; Materialize must not run inside a savepoint, and it leaves none behind.
//
// It sets the transaction's search_path (SET LOCAL) to schemaName, then public, then
// extraSearchPath, so that unqualified names in SQL land in schemaName and references to public
// tables resolve. Within an app, its HCL files are evaluated together with Atlas and created first,
// then its SQL files run in path order, each statement as written.
//
// Afterwards it refuses, with errors that wrap ErrUnmanaged and name the object and its app, what
// the engine could not manage: objects created outside schemaName, kinds that Atlas' open-source
// driver does not inspect (views, functions, triggers, rules, policies, standalone sequences,
// composite, domain and range types, partitioned or inherited tables, extensions, exclusion
// constraints, ...), names with ReservedPrefix, and anything that does not survive a round trip
// through Atlas: the schema is inspected, re-created from the inspection in a second scratch
// schema, and the two must match in the catalog and in Atlas' own diff.
//
// Failures of the apps' statements are *Error values that locate the file and line and wrap the
// server's *pgconn.PgError. Problems of several objects are joined with errors.Join.
func Materialize(ctx context.Context, tx schema.ExecQuerier, schemaName string, extraSearchPath []string, list ...*App) error {
	m := &materializer{tx: tx, schema: schemaName, extra: extraSearchPath, origins: map[string]origin{}}
	if err := m.checkArgs(list); err != nil {
		return err
	}
	return m.run(ctx, list)
}

// materializer holds the state of one Materialize call.
type materializer struct {
	tx      schema.ExecQuerier
	schema  string
	extra   []string
	drv     migrate.Driver    // Atlas' postgres driver on tx, opened on first use
	objects map[string]object // the schema's objects after the last file
	origins map[string]origin // which app and file first created each object, by key
}

// checkArgs rejects a bad schema name, search path or app before anything runs.
func (m *materializer) checkArgs(list []*App) error {
	switch {
	case !schemaNameRE.MatchString(m.schema) || strings.HasPrefix(m.schema, "pg_"):
		return fmt.Errorf("apps: scratch schema name %q does not match %s", m.schema, schemaNameRE)
	case m.schema == "public":
		return errors.New("apps: materialize into an empty scratch schema, not public: public is where apps' references resolve")
	case len(list) == 0:
		return errors.New("apps: materialize needs at least one app")
	}
	for _, p := range m.extra {
		if p == "" || strings.ContainsRune(p, 0) {
			return fmt.Errorf("apps: bad schema %q in the extra search path", p)
		}
	}
	var errs []error
	for _, a := range list {
		if _, err := checkApp(a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// run materialises the apps and then checks what they created.
func (m *materializer) run(ctx context.Context, list []*App) error {
	if err := m.setPath(ctx, m.schema); err != nil {
		return err
	}
	if err := m.checkEmpty(ctx); err != nil {
		return err
	}
	baseline, err := outsideObjects(ctx, m.tx, m.schema)
	if err != nil {
		return err
	}
	var outside []error
	for _, a := range list {
		if err := m.materializeApp(ctx, a); err != nil {
			return err
		}
		// Checked per app, so that an object created outside the schema is blamed on its app.
		found, err := outsideObjects(ctx, m.tx, m.schema)
		if err != nil {
			return err
		}
		for _, o := range sortedKeys(found) {
			if !baseline[o] {
				outside = append(outside, unmanaged(origin{app: a.Name}, "%s was created outside the app's schema; an app never names its schema", o))
				baseline[o] = true
			}
		}
	}
	if err := errors.Join(outside...); err != nil {
		return err
	}
	if err := m.checkNotSubtransaction(ctx); err != nil {
		return err
	}
	if err := m.checkKinds(); err != nil {
		return err
	}
	return m.roundTrip(ctx)
}

// materializeApp creates one app's objects: its HCL files together, then its SQL files in order.
func (m *materializer) materializeApp(ctx context.Context, a *App) error {
	var hclFiles []File
	for _, f := range a.Files {
		if f.Kind == KindHCL {
			hclFiles = append(hclFiles, f)
		}
	}
	if len(hclFiles) > 0 {
		decls, err := m.applyHCL(ctx, a.Name, hclFiles)
		if err != nil {
			return err
		}
		if err := m.record(ctx, func(o object) origin { return decls.origin(a.Name, o) }); err != nil {
			return err
		}
	}
	for _, f := range a.Files {
		if f.Kind != KindSQL {
			continue
		}
		if err := m.execSQL(ctx, a.Name, f); err != nil {
			return err
		}
		if err := m.record(ctx, func(object) origin { return origin{app: a.Name, file: f.Path} }); err != nil {
			return err
		}
	}
	return nil
}

// execSQL runs a SQL file statement by statement, so that an error the server reports without a
// position still points at its statement. The search_path is set again first, in case an earlier
// file changed it.
func (m *materializer) execSQL(ctx context.Context, app string, f File) error {
	text := string(f.Data)
	stmts, err := statements(app, f.Path, text)
	if err != nil {
		return err
	}
	if err := m.setPath(ctx, m.schema); err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := m.tx.ExecContext(ctx, s.Text); err != nil {
			return &Error{App: app, File: f.Path, Line: errorLine(text, s, err), Err: err}
		}
	}
	return nil
}

// errorLine returns the line of text at which statement s failed with err: the server's error
// position when it reports one, else the statement's first line.
func errorLine(text string, s *migrate.Stmt, err error) int {
	start := s.Pos
	// The scanner's position is where the statement's text starts in the file.
	if i := strings.Index(text[min(start, len(text)):], s.Text); i >= 0 {
		start += i
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Position > 0 {
		return lineAt(text, start+charOffset(s.Text, int(pgErr.Position)))
	}
	return lineAt(text, start+len(s.Text)-len(strings.TrimLeft(s.Text, " \t\r\n")))
}

// record lists the schema's objects and attributes the new ones to the origin that from gives.
func (m *materializer) record(ctx context.Context, from func(object) origin) error {
	objs, err := listObjects(ctx, m.tx, m.schema)
	if err != nil {
		return err
	}
	for k, o := range objs {
		if _, ok := m.origins[k]; !ok {
			m.origins[k] = from(o)
		}
	}
	m.objects = objs
	return nil
}

// setPath sets the transaction's search_path to first, public, then the extra schemas.
func (m *materializer) setPath(ctx context.Context, first string) error {
	path := []string{quoteIdent(first), "public"}
	for _, p := range m.extra {
		path = append(path, quoteIdent(p))
	}
	if _, err := m.tx.ExecContext(ctx, "SET LOCAL search_path TO "+strings.Join(path, ", ")); err != nil {
		return fmt.Errorf("apps: set the search_path: %w", err)
	}
	return nil
}

// checkEmpty fails unless the scratch schema exists and holds nothing, since every object in it
// is taken to come from the apps.
func (m *materializer) checkEmpty(ctx context.Context) error {
	var exists bool
	if err := queryRow(ctx, m.tx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, []any{m.schema}, &exists); err != nil {
		return fmt.Errorf("apps: check the scratch schema: %w", err)
	}
	if !exists {
		return fmt.Errorf("apps: scratch schema %q does not exist", m.schema)
	}
	objs, err := listObjects(ctx, m.tx, m.schema)
	if err != nil {
		return err
	}
	if len(objs) > 0 {
		return fmt.Errorf("apps: scratch schema %q is not empty: it holds %s", m.schema, objs[sortedKeys(objs)[0]].describe())
	}
	m.objects = objs
	return nil
}

// checkNotSubtransaction fails when the objects of the schema were written by a subtransaction:
// outsideObjects knows only the top-level transaction's id, and would then miss objects.
func (m *materializer) checkNotSubtransaction(ctx context.Context) error {
	var foreign int
	err := queryRow(ctx, m.tx, `SELECT count(*) FROM pg_catalog.pg_class
		WHERE relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)
		AND xmin <> pg_catalog.pg_current_xact_id()::xid`, []any{m.schema}, &foreign)
	if err != nil {
		return fmt.Errorf("apps: check the transaction: %w", err)
	}
	if foreign > 0 {
		return errors.New("apps: Materialize ran inside a savepoint; call it in the transaction itself, so that it can find objects created outside the schema")
	}
	return nil
}

// checkKinds refuses the objects of kinds the engine cannot manage and the reserved names.
func (m *materializer) checkKinds() error {
	var errs []error
	for _, k := range sortedKeys(m.objects) {
		o := m.objects[k]
		switch {
		case !managedKinds[o.kind]:
			errs = append(errs, unmanaged(m.origins[k], "%s: Atlas' open-source PostgreSQL driver does not manage this kind; "+
				"apps declare tables, columns, indexes, constraints (primary key, unique, foreign key, check), enums, and identity or serial columns", o.describe()))
		case (o.kind == "table" || o.kind == "enum") && strings.HasPrefix(o.name, ReservedPrefix):
			errs = append(errs, unmanaged(m.origins[k], "%s: the prefix %q is reserved for the engine", o.describe(), ReservedPrefix))
		}
	}
	return errors.Join(errs...)
}

// driver returns Atlas' postgres driver on the transaction.
func (m *materializer) driver() (migrate.Driver, error) {
	if m.drv == nil {
		drv, err := postgres.Open(m.tx)
		if err != nil {
			return nil, fmt.Errorf("apps: %w", err)
		}
		m.drv = drv
	}
	return m.drv, nil
}

// queryRow scans the one row of a query into dest.
func queryRow(ctx context.Context, db schema.ExecQuerier, query string, args []any, dest ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errors.New("no row")
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
