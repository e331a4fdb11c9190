package ecosystem

import (
	"context"
	"database/sql"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/pgschemas/pgschemas/testdata/ecosystem/ent"
	"github.com/pgschemas/pgschemas/testdata/ecosystem/ent/note"
)

// TestEnt runs the scenario with ent, through the client generated from ent/schema, over the
// driver's *sql.DB (entsql.OpenDB).
func TestEnt(t *testing.T) {
	testLibrary(t, func(t *testing.T, db *sql.DB) notes {
		return entNotes{c: ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db)))}
	})
}

type entNotes struct{ c *ent.Client }

func (n entNotes) Create(ctx context.Context, title string) (int64, error) {
	created, err := n.c.Note.Create().SetTitle(title).Save(ctx)
	if err != nil {
		return 0, err
	}
	return int64(created.ID), nil
}

func (n entNotes) Get(ctx context.Context, id int64) (string, error) {
	got, err := n.c.Note.Get(ctx, int(id))
	if err != nil {
		return "", err
	}
	return got.Title, nil
}

func (n entNotes) List(ctx context.Context) ([]string, error) {
	return n.c.Note.Query().Order(note.ByID()).Select(note.FieldTitle).Strings(ctx)
}

func (n entNotes) Rename(ctx context.Context, id int64, title string) error {
	return n.c.Note.UpdateOneID(int(id)).SetTitle(title).Exec(ctx)
}

func (n entNotes) Delete(ctx context.Context, id int64) error {
	return n.c.Note.DeleteOneID(int(id)).Exec(ctx)
}

func (n entNotes) InTx(ctx context.Context, fn func(context.Context, notes) error) error {
	return inTx(func() (*ent.Tx, error) { return n.c.Tx(ctx) }, (*ent.Tx).Commit, (*ent.Tx).Rollback,
		func(tx *ent.Tx) error { return fn(ctx, entNotes{c: tx.Client()}) })
}
