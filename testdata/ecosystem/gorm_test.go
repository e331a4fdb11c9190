package ecosystem

import (
	"context"
	"database/sql"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// TestGorm runs the scenario with gorm, its postgres dialector over the driver's *sql.DB (Conn).
func TestGorm(t *testing.T) {
	testLibrary(t, func(t *testing.T, db *sql.DB) notes {
		g, err := gorm.Open(postgres.New(postgres.Config{Conn: db}), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		return gormNotes{db: g}
	})
}

type gormNote struct {
	ID    int64
	Title string
}

func (gormNote) TableName() string { return "notes" }

type gormNotes struct{ db *gorm.DB }

func (n gormNotes) Create(ctx context.Context, title string) (int64, error) {
	note := gormNote{Title: title}
	err := n.db.WithContext(ctx).Create(&note).Error
	return note.ID, err
}

func (n gormNotes) Get(ctx context.Context, id int64) (string, error) {
	var note gormNote
	err := n.db.WithContext(ctx).First(&note, id).Error
	return note.Title, err
}

func (n gormNotes) List(ctx context.Context) ([]string, error) {
	var titles []string
	err := n.db.WithContext(ctx).Model(&gormNote{}).Order("id").Pluck("title", &titles).Error
	return titles, err
}

func (n gormNotes) Rename(ctx context.Context, id int64, title string) error {
	return n.db.WithContext(ctx).Model(&gormNote{ID: id}).Update("title", title).Error
}

func (n gormNotes) Delete(ctx context.Context, id int64) error {
	return n.db.WithContext(ctx).Delete(&gormNote{}, id).Error
}

func (n gormNotes) InTx(ctx context.Context, fn func(context.Context, notes) error) error {
	return n.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return fn(ctx, gormNotes{db: tx}) })
}
