package ecosystem

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/pgschemas/pgschemas/driver"
)

// TestSQLX runs the scenario with sqlx over the driver, named parameters included: sqlx learns the
// driver's placeholders ($1) from BindDriver.
func TestSQLX(t *testing.T) {
	sqlx.BindDriver(driver.DriverName, sqlx.DOLLAR)
	testLibrary(t, func(t *testing.T, db *sql.DB) notes {
		x := sqlx.NewDb(db, driver.DriverName)
		return sqlxNotes{db: x, ext: x}
	})
}

type sqlxNotes struct {
	db  *sqlx.DB // nil in a transaction
	ext sqlx.ExtContext
}

func (n sqlxNotes) Create(ctx context.Context, title string) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, n.ext, &id, "INSERT INTO notes (title) VALUES ($1) RETURNING id", title)
	return id, err
}

func (n sqlxNotes) Get(ctx context.Context, id int64) (string, error) {
	var title string
	err := sqlx.GetContext(ctx, n.ext, &title, "SELECT title FROM notes WHERE id = $1", id)
	return title, err
}

func (n sqlxNotes) List(ctx context.Context) ([]string, error) {
	var titles []string
	err := sqlx.SelectContext(ctx, n.ext, &titles, "SELECT title FROM notes ORDER BY id")
	return titles, err
}

func (n sqlxNotes) Rename(ctx context.Context, id int64, title string) error {
	_, err := sqlx.NamedExecContext(ctx, n.ext, "UPDATE notes SET title = :title WHERE id = :id",
		map[string]any{"id": id, "title": title})
	return err
}

func (n sqlxNotes) Delete(ctx context.Context, id int64) error {
	_, err := n.ext.ExecContext(ctx, "DELETE FROM notes WHERE id = $1", id)
	return err
}

func (n sqlxNotes) InTx(ctx context.Context, fn func(context.Context, notes) error) error {
	return inTx(func() (*sqlx.Tx, error) { return n.db.BeginTxx(ctx, nil) }, (*sqlx.Tx).Commit, (*sqlx.Tx).Rollback,
		func(tx *sqlx.Tx) error { return fn(ctx, sqlxNotes{ext: tx}) })
}
