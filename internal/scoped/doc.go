// Package scoped opens Atlas' PostgreSQL driver so that its inspection of a schema reads the
// catalog through indexes from that schema, not the catalog of the whole database: with thousands
// of tenants, Atlas' own queries take seconds per schema, and the engine (schemaset) and the app
// loader (apps) inspect several schemas per run. Open is what both call; Querier is the
// schema.ExecQuerier it wraps the transaction in.
package scoped
