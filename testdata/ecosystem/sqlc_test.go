package ecosystem

import (
	"context"
	"database/sql"
	"testing"

	"github.com/pgschemas/pgschemas/testdata/ecosystem/sqlcdb"
)

// TestSQLC runs the scenario with plain database/sql through sqlc-style code (package sqlcdb).
func TestSQLC(t *testing.T) {
	testLibrary(t, func(t *testing.T, db *sql.DB) notes { return sqlcNotes{db: db, q: sqlcdb.New(db)} })
}

type sqlcNotes struct {
	db *sql.DB // nil in a transaction
	q  *sqlcdb.Queries
}

func (n sqlcNotes) Create(ctx context.Context, title string) (int64, error) {
	return n.q.CreateNote(ctx, title)
}

func (n sqlcNotes) Get(ctx context.Context, id int64) (string, error) {
	note, err := n.q.GetNote(ctx, id)
	return note.Title, err
}

func (n sqlcNotes) List(ctx context.Context) ([]string, error) {
	all, err := n.q.ListNotes(ctx)
	titles := make([]string, len(all))
	for i, note := range all {
		titles[i] = note.Title
	}
	return titles, err
}

func (n sqlcNotes) Rename(ctx context.Context, id int64, title string) error {
	return n.q.RenameNote(ctx, sqlcdb.RenameNoteParams{ID: id, Title: title})
}

func (n sqlcNotes) Delete(ctx context.Context, id int64) error { return n.q.DeleteNote(ctx, id) }

func (n sqlcNotes) InTx(ctx context.Context, fn func(context.Context, notes) error) error {
	return inTx(func() (*sql.Tx, error) { return n.db.BeginTx(ctx, nil) }, (*sql.Tx).Commit, (*sql.Tx).Rollback,
		func(tx *sql.Tx) error { return fn(ctx, sqlcNotes{q: n.q.WithTx(tx)}) })
}
