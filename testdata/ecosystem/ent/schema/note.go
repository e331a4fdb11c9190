// Package schema holds the ent schema of the ecosystem tests: one table, notes, that each tenant
// schema (and public) has. It never names a schema: the pgschemas driver picks it per context.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// Note is a row of notes.
type Note struct {
	ent.Schema
}

// Fields of Note: an id (ent's default) and a title.
func (Note) Fields() []ent.Field {
	return []ent.Field{
		field.String("title").NotEmpty(),
	}
}
