package apps

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/jackc/pgx/v5"
	"github.com/pgschemas/pgschemas/internal/scoped"
	"github.com/pgschemas/pgschemas/internal/sqlrows"
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
// the engine could not manage: objects created outside schemaName, kinds that neither Atlas'
// open-source driver nor the engine manages (materialized views, procedures, triggers, rules,
// policies, standalone sequences, composite, domain and range types, partitioned or inherited
// tables, extensions, exclusion constraints, ...), grants and comments on views and functions,
// names with ReservedPrefix, and anything that does not survive a round trip through Atlas: the
// schema's tables and enums are inspected, re-created from the inspection in a second scratch
// schema, and the two must match in the catalog and in Atlas' own diff. Views and functions, which
// the engine manages itself, are left out of that round trip.
//
// Failures of the apps' statements are *Error values that locate the file and line and wrap the
// server's *pgconn.PgError. Problems of several objects are joined with errors.Join.
//
// After each statement of an app's SQL it checks that tx is still inside its transaction (with
// the TxStatus method of tx when it has one, else with a query): a statement that ended it stops
// the run with an *Error at the statement that wraps ErrTransactionEnded.
func Materialize(ctx context.Context, tx schema.ExecQuerier, schemaName string, extraSearchPath []string, list ...*App) error {
	return MaterializeWith(ctx, tx, schemaName, Options{ExtraSearchPath: extraSearchPath}, list...)
}

// Options tune MaterializeWith.
type Options struct {
	// Public is the schema that stands for public: the apps' references to public tables (an
	// unqualified name, table.public.NAME in HCL) resolve there first, then in public. The engine
	// materialises public's own apps into a scratch schema and names it here, so that the desired
	// state of a tenant is computed without touching public. Empty means public itself.
	Public string
	// ExtraSearchPath are schemas searched after public.
	ExtraSearchPath []string
}

// MaterializeWith is Materialize with options.
func MaterializeWith(ctx context.Context, tx schema.ExecQuerier, schemaName string, opts Options, list ...*App) error {
	m := &materializer{tx: tx, schema: schemaName, public: opts.Public, extra: opts.ExtraSearchPath, origins: map[string]origin{}}
	if m.public == "" {
		m.public = "public"
	}
	checked, err := m.checkArgs(list)
	if err != nil {
		return err
	}
	return m.run(ctx, checked)
}

// materializer holds the state of one Materialize call.
type materializer struct {
	tx      schema.ExecQuerier
	schema  string
	public  string // the schema that stands for public
	xid     string // the transaction's id, for inTx when tx has no TxStatus
	extra   []string
	drv     migrate.Driver    // Atlas' postgres driver on tx, opened on first use
	objects map[string]object // the schema's objects after the last file
	origins map[string]origin // which app and file first created each object, by key
	seen    map[string]bool   // the objects outside the schema found so far
	outside []error           // the objects apps created outside the schema
}

// checkArgs rejects a bad schema name, search path or app before anything runs, and returns the
// apps checked, with their files in order.
func (m *materializer) checkArgs(list []*App) ([]*App, error) {
	switch {
	case !schemaNameRE.MatchString(m.schema) || strings.HasPrefix(m.schema, "pg_"):
		return nil, fmt.Errorf("apps: scratch schema name %q does not match %s", m.schema, schemaNameRE)
	case m.schema == "public" || m.schema == m.public:
		return nil, errors.New("apps: materialize into an empty scratch schema, not public: public is where apps' references resolve")
	case len(list) == 0:
		return nil, errors.New("apps: materialize needs at least one app")
	}
	for _, p := range append([]string{m.public}, m.extra...) {
		if p == "" || strings.ContainsRune(p, 0) {
			return nil, fmt.Errorf("apps: bad schema %q in the extra search path", p)
		}
	}
	var (
		checked []*App
		errs    []error
	)
	for _, a := range list {
		c, err := checkApp(a)
		checked = append(checked, c)
		errs = append(errs, err)
	}
	return checked, errors.Join(errs...)
}

// run materialises the apps and then checks what they created.
func (m *materializer) run(ctx context.Context, list []*App) error {
	if err := m.setPath(ctx, m.schema); err != nil {
		return err
	}
	if err := m.checkEmpty(ctx); err != nil {
		return err
	}
	if err := m.checkTopLevel(ctx); err != nil {
		return err
	}
	if err := queryRow(ctx, m.tx, `SELECT pg_catalog.pg_current_xact_id()::text`, nil, &m.xid); err != nil {
		return fmt.Errorf("apps: read the transaction's id: %w", err)
	}
	if err := m.materializeAll(ctx, list); err != nil {
		return err
	}
	if err := m.checkKinds(); err != nil {
		return err
	}
	return m.roundTrip(ctx)
}

// materializeAll materialises the apps in order, and refuses the objects each created outside
// the schema. It checks after each file, so that such an object is blamed on its app and file;
// what the transaction had created before is left alone.
func (m *materializer) materializeAll(ctx context.Context, list []*App) error {
	seen, err := outsideObjects(ctx, m.tx, m.schema)
	if err != nil {
		return err
	}
	m.seen = seen
	for _, a := range list {
		if err := m.materializeApp(ctx, a); err != nil {
			return err
		}
	}
	return errors.Join(m.outside...)
}

// checkOutside records, as errors blamed on o, the objects created outside the schema since the
// last check.
func (m *materializer) checkOutside(ctx context.Context, o origin) error {
	found, err := outsideObjects(ctx, m.tx, m.schema)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(found) {
		if !m.seen[k] {
			m.outside = append(m.outside, unmanaged(o, "%s was created outside the app's schema; an app never names its schema", k))
			m.seen[k] = true
		}
	}
	return nil
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
		o := origin{app: a.Name}
		if len(hclFiles) == 1 {
			o.file = hclFiles[0].Path
		}
		if err := m.checkOutside(ctx, o); err != nil {
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
		o := origin{app: a.Name, file: f.Path}
		if err := m.record(ctx, func(object) origin { return o }); err != nil {
			return err
		}
		if err := m.checkOutside(ctx, o); err != nil {
			return err
		}
	}
	return nil
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

// setPath sets the transaction's search_path to first, the schema that stands for public, public,
// then the extra schemas. It also sets standard_conforming_strings, so that the server reads string
// literals as the parser that classified the apps' SQL did.
func (m *materializer) setPath(ctx context.Context, first string) error {
	path := []string{quoteIdent(first), quoteIdent(m.public)}
	if m.public != "public" {
		path = append(path, "public")
	}
	for _, p := range m.extra {
		path = append(path, quoteIdent(p))
	}
	if _, err := m.tx.ExecContext(ctx, "SET LOCAL search_path TO "+strings.Join(path, ", ")+"; SET LOCAL standard_conforming_strings = on"); err != nil {
		return fmt.Errorf("apps: set the search_path: %w", err)
	}
	return nil
}

// driver returns Atlas' postgres driver on the transaction.
func (m *materializer) driver() (migrate.Driver, error) {
	if m.drv == nil {
		// Scoped: Atlas' own queries read the catalog of the whole database (see internal/scoped).
		drv, err := scoped.Open(m.tx)
		if err != nil {
			return nil, fmt.Errorf("apps: %w", err)
		}
		m.drv = drv
	}
	return m.drv, nil
}

// queryRow scans the one row of a query into dest.
func queryRow(ctx context.Context, db schema.ExecQuerier, query string, args []any, dest ...any) error {
	n := 0
	err := sqlrows.Each(ctx, db, query, func(rows *sql.Rows) error {
		n++
		return rows.Scan(dest...)
	}, args...)
	if err == nil && n != 1 {
		err = fmt.Errorf("%d rows, want one", n)
	}
	return err
}

// quoteIdent quotes a PostgreSQL identifier, as pgx does.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
