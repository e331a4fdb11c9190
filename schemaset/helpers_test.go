package schemaset_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// sampleFS returns the sample set in ../testdata as an in-memory file system, with edits applied:
// a key with a value writes that file, a key with "" removes it.
func sampleFS(t testing.TB, edits map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	root := os.DirFS("../testdata")
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".md") {
			return err
		}
		data, err := fs.ReadFile(root, p)
		fsys[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range edits {
		if data == "" {
			delete(fsys, p)
			continue
		}
		fsys[p] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// sampleSet loads the sample set with edits.
func sampleSet(t testing.TB, edits map[string]string) *schemaset.Set {
	t.Helper()
	set, err := schemaset.Load(sampleFS(t, edits), "pgschemas.hcl")
	if err != nil {
		t.Fatalf("load the sample set: %v", err)
	}
	return set
}

// fresh returns a pool on a new throwaway database.
func fresh(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustApply applies every schema of the set and fails the test on any failure.
func mustApply(t testing.TB, e *schemaset.Engine, opts schemaset.ApplyOptions) *schemaset.Report {
	t.Helper()
	return mustRun(t, e, schemaset.Selector{All: true}, opts, false)
}

// mustRun applies (or, with plan, plans) the schemas sel picks, and fails the test when the run or
// any schema fails.
func mustRun(t testing.TB, e *schemaset.Engine, sel schemaset.Selector, opts schemaset.ApplyOptions, plan bool) *schemaset.Report {
	t.Helper()
	ctx := context.Background()
	targets, err := e.Select(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	run := e.Apply
	if plan {
		run = e.Plan
	}
	rep, err := run(ctx, targets, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return rep
}

// columns returns "table.column" for every column of a schema, sorted.
func columns(t testing.TB, db *sql.DB, schemaName string) []string {
	t.Helper()
	return strs(t, db, `SELECT c.relname || '.' || a.attname FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY 1`, schemaName)
}

// strs runs a query that returns one text column, on a *sql.DB or in a *sql.Tx.
func strs(t testing.TB, db interface {
	Query(string, ...any) (*sql.Rows, error)
}, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func exists(t testing.TB, db *sql.DB, schemaName string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schemaName).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func outcomes(rep *schemaset.Report) map[string]schemaset.Outcome {
	out := map[string]schemaset.Outcome{}
	for _, r := range rep.Results {
		out[r.Schema] = r.Outcome
	}
	return out
}
