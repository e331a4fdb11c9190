// Package ecosystem proves that the data libraries of Go work unchanged over a *sql.DB opened with
// the pgschemas driver: plain database/sql with sqlc-style code (package sqlcdb), sqlx, bun, gorm
// and ent (package ent, generated from ent/schema). Each test, against a real PostgreSQL, runs the
// same scenario in two tenant schemas and in public (a context without a schema), concurrently over
// a pool of two connections: CRUD, a transaction that commits, one that rolls back, and a missing
// schema that fails. It then reads every schema's table directly, and checks that each holds its
// own rows and nothing else.
//
// Its Examples (readme_example_test.go) are the README's sqlx, bun and gorm snippets, run against
// a database that TestMain makes; the main module's internal/readme checks that they match.
//
// This is a module of its own, so that a user of pgschemas never inherits these libraries. Run it
// from this folder: go test ./... (PGSCHEMAS_TEST_DSN names the server; without it,
// postgres://postgres@127.0.0.1:5432; with CI=true, a missing server fails the run, elsewhere the
// tests skip).
package ecosystem
