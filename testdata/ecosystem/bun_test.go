package ecosystem

import (
	"context"
	"database/sql"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// TestBun runs the scenario with bun, its pgdialect over the driver's *sql.DB.
func TestBun(t *testing.T) {
	testLibrary(t, func(t *testing.T, db *sql.DB) notes { return bunNotes{db: bun.NewDB(db, pgdialect.New())} })
}

type bunNote struct {
	bun.BaseModel `bun:"table:notes"`

	ID    int64  `bun:"id,pk,autoincrement"`
	Title string `bun:"title"`
}

type bunNotes struct{ db bun.IDB }

func (n bunNotes) Create(ctx context.Context, title string) (int64, error) {
	note := &bunNote{Title: title}
	_, err := n.db.NewInsert().Model(note).Exec(ctx)
	return note.ID, err
}

func (n bunNotes) Get(ctx context.Context, id int64) (string, error) {
	note := &bunNote{ID: id}
	err := n.db.NewSelect().Model(note).WherePK().Scan(ctx)
	return note.Title, err
}

func (n bunNotes) List(ctx context.Context) ([]string, error) {
	var titles []string
	err := n.db.NewSelect().Model((*bunNote)(nil)).Column("title").Order("id").Scan(ctx, &titles)
	return titles, err
}

func (n bunNotes) Rename(ctx context.Context, id int64, title string) error {
	_, err := n.db.NewUpdate().Model(&bunNote{ID: id, Title: title}).Column("title").WherePK().Exec(ctx)
	return err
}

func (n bunNotes) Delete(ctx context.Context, id int64) error {
	_, err := n.db.NewDelete().Model(&bunNote{ID: id}).WherePK().Exec(ctx)
	return err
}

func (n bunNotes) InTx(ctx context.Context, fn func(context.Context, notes) error) error {
	return n.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, bunNotes{db: tx}) })
}
