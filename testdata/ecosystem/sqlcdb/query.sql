-- name: CreateNote :one
INSERT INTO notes (title) VALUES ($1) RETURNING id;

-- name: GetNote :one
SELECT id, title FROM notes WHERE id = $1;

-- name: ListNotes :many
SELECT id, title FROM notes ORDER BY id;

-- name: RenameNote :exec
UPDATE notes SET title = $2 WHERE id = $1;

-- name: DeleteNote :exec
DELETE FROM notes WHERE id = $1;
