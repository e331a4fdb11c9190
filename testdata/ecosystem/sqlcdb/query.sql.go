// source: query.sql

package sqlcdb

import (
	"context"
)

const createNote = `-- name: CreateNote :one
INSERT INTO notes (title) VALUES ($1) RETURNING id
`

// CreateNote inserts a note and returns its id.
func (q *Queries) CreateNote(ctx context.Context, title string) (int64, error) {
	row := q.db.QueryRowContext(ctx, createNote, title)
	var id int64
	err := row.Scan(&id)
	return id, err
}

const deleteNote = `-- name: DeleteNote :exec
DELETE FROM notes WHERE id = $1
`

// DeleteNote deletes the note id.
func (q *Queries) DeleteNote(ctx context.Context, id int64) error {
	_, err := q.db.ExecContext(ctx, deleteNote, id)
	return err
}

const getNote = `-- name: GetNote :one
SELECT id, title FROM notes WHERE id = $1
`

// GetNote returns the note id.
func (q *Queries) GetNote(ctx context.Context, id int64) (Note, error) {
	row := q.db.QueryRowContext(ctx, getNote, id)
	var i Note
	err := row.Scan(&i.ID, &i.Title)
	return i, err
}

const listNotes = `-- name: ListNotes :many
SELECT id, title FROM notes ORDER BY id
`

// ListNotes returns every note, by id.
func (q *Queries) ListNotes(ctx context.Context) ([]Note, error) {
	rows, err := q.db.QueryContext(ctx, listNotes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []Note
	for rows.Next() {
		var i Note
		if err := rows.Scan(&i.ID, &i.Title); err != nil {
			return nil, err
		}
		items = append(items, i)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return items, nil
}

const renameNote = `-- name: RenameNote :exec
UPDATE notes SET title = $2 WHERE id = $1
`

// RenameNoteParams are the arguments of RenameNote.
type RenameNoteParams struct {
	ID    int64
	Title string
}

// RenameNote sets the title of the note arg.ID.
func (q *Queries) RenameNote(ctx context.Context, arg RenameNoteParams) error {
	_, err := q.db.ExecContext(ctx, renameNote, arg.ID, arg.Title)
	return err
}
