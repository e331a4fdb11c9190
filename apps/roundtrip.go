package apps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// roundTripSavepoint scopes the round trip, so that its schema, its search_path and a statement
// that fails in it are undone without touching the caller's transaction.
const roundTripSavepoint = "pgschemas_roundtrip"

// roundTrip proves that the engine can manage what the apps created: it inspects the scratch
// schema with Atlas, creates a second schema from that inspection with Atlas' own plan, and
// compares the two, both in the catalog (which sees what Atlas does not inspect, such as a
// DEFERRABLE foreign key or storage parameters) and with Atlas' diff (which must be empty, or the
// engine would find changes to apply on every run). Every difference is refused as unmanaged,
// naming the object and the app that created it.
func (m *materializer) roundTrip(ctx context.Context) error {
	if _, err := m.tx.ExecContext(ctx, "SAVEPOINT "+roundTripSavepoint); err != nil {
		return fmt.Errorf("apps: round trip: %w", err)
	}
	found, err := m.compareRoundTrip(ctx)
	if _, rbErr := m.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+roundTripSavepoint); rbErr != nil && err == nil {
		err = fmt.Errorf("apps: round trip: %w", rbErr)
	}
	if _, relErr := m.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+roundTripSavepoint); relErr != nil && err == nil {
		err = fmt.Errorf("apps: round trip: %w", relErr)
	}
	if err != nil {
		return err
	}
	return errors.Join(found...)
}

// compareRoundTrip does the round trip inside the savepoint. It returns the differences found,
// or an error when the round trip itself could not run.
func (m *materializer) compareRoundTrip(ctx context.Context) ([]error, error) {
	drv, err := m.driver()
	if err != nil {
		return nil, err
	}
	want, err := drv.InspectSchema(ctx, m.schema, nil)
	if err != nil {
		return nil, fmt.Errorf("apps: inspect schema %q: %w", m.schema, err)
	}
	rt, err := roundTripName()
	if err != nil {
		return nil, err
	}
	if _, err := m.tx.ExecContext(ctx, "CREATE SCHEMA "+quoteIdent(rt)); err != nil {
		return nil, fmt.Errorf("apps: round trip: %w", err)
	}
	// Defaults and constraints render relative to the search_path: give the copy the same one.
	if err := m.setPath(ctx, rt); err != nil {
		return nil, err
	}
	if failed := m.recreate(ctx, drv, want, rt); failed != nil {
		return []error{failed}, nil
	}
	got, err := drv.InspectSchema(ctx, rt, nil)
	if err != nil {
		return nil, fmt.Errorf("apps: inspect schema %q: %w", rt, err)
	}
	objs, err := listObjects(ctx, m.tx, rt)
	if err != nil {
		return nil, err
	}
	found := m.compareObjects(objs)
	got.Name = m.schema
	changes, err := drv.SchemaDiff(want, got)
	if err != nil {
		return nil, fmt.Errorf("apps: round trip diff: %w", err)
	}
	for _, c := range changes {
		found = append(found, unmanaged(m.originOf(changeKey(c)), "Atlas still sees a change after re-creating the schema from its inspection: %s", describeChange(c)))
	}
	return found, nil
}

// recreate creates in schema rt what Atlas inspected in want, with Atlas' plan. It returns an
// unmanaged error for a statement that fails: then Atlas cannot re-create the object.
func (m *materializer) recreate(ctx context.Context, drv migrate.Driver, want *schema.Schema, rt string) error {
	// Renamed, the inspection plans objects qualified with rt, and its tables' foreign keys to each
	// other follow, since they point at the same *schema.Schema.
	want.Name = rt
	defer func() { want.Name = m.schema }()
	changes, err := drv.SchemaDiff(schema.New(rt), want)
	if err != nil {
		return unmanaged(origin{}, "Atlas cannot diff the schema: %v", err)
	}
	plan, err := drv.PlanChanges(ctx, "roundtrip", changes)
	if err != nil {
		return unmanaged(origin{}, "Atlas cannot plan the schema: %v", err)
	}
	for _, c := range plan.Changes {
		if _, err := m.tx.ExecContext(ctx, c.Cmd, c.Args...); err != nil {
			return unmanaged(m.originOf(changeKey(c.Source)), "Atlas cannot re-create %s from its inspection: %q: %w", describeChange(c.Source), c.Cmd, err)
		}
	}
	return nil
}

// compareObjects compares the catalog objects of the copy with those of the scratch schema.
func (m *materializer) compareObjects(got map[string]object) []error {
	var errs []error
	for _, k := range sortedKeys(m.objects) {
		o := m.objects[k]
		g, ok := got[k]
		switch {
		case engineKinds[o.kind]:
			// Not Atlas': the engine creates them from their definitions.
		case !ok:
			errs = append(errs, unmanaged(m.origins[k], "%s is lost in a round trip through Atlas (Atlas does not inspect or re-create it)", o.describe()))
		case g.detail != o.detail:
			errs = append(errs, unmanaged(m.origins[k], "%s changes in a round trip through Atlas: declared %q, re-created as %q", o.describe(), o.detail, g.detail))
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := m.objects[k]; !ok {
			g := got[k]
			errs = append(errs, unmanaged(m.originOf("table "+g.table), "a round trip through Atlas adds %s: %s", g.describe(), g.detail))
		}
	}
	return errs
}

// originOf returns the origin of a table ("table NAME") or enum ("enum NAME") key of changeKey.
func (m *materializer) originOf(key string) origin {
	kind, name := splitKey(key)
	switch kind {
	case "table":
		return m.origins["relation "+name]
	case "enum":
		return m.origins["type "+name]
	}
	return origin{}
}

// describeChange names an Atlas change for a message.
func describeChange(c schema.Change) string {
	switch c := c.(type) {
	case *schema.AddTable:
		return fmt.Sprintf("table %q", c.T.Name)
	case *schema.ModifyTable:
		s := fmt.Sprintf("table %q:", c.T.Name)
		for _, tc := range c.Changes {
			s += " " + describeTableChange(tc)
		}
		return s
	case *schema.DropTable:
		return fmt.Sprintf("drop table %q", c.T.Name)
	case *schema.AddObject:
		return fmt.Sprintf("add %s", describeObject(c.O))
	case *schema.ModifyObject:
		return fmt.Sprintf("modify %s", describeObject(c.From))
	case *schema.DropObject:
		return fmt.Sprintf("drop %s", describeObject(c.O))
	}
	return fmt.Sprintf("%T", c)
}

// describeTableChange names a change inside a table.
func describeTableChange(c schema.Change) string {
	switch c := c.(type) {
	case *schema.AddColumn:
		return fmt.Sprintf("add column %q", c.C.Name)
	case *schema.ModifyColumn:
		return fmt.Sprintf("modify column %q", c.From.Name)
	case *schema.DropColumn:
		return fmt.Sprintf("drop column %q", c.C.Name)
	case *schema.AddIndex:
		return fmt.Sprintf("add index %q", c.I.Name)
	case *schema.ModifyIndex:
		return fmt.Sprintf("modify index %q", c.From.Name)
	case *schema.DropIndex:
		return fmt.Sprintf("drop index %q", c.I.Name)
	case *schema.AddForeignKey:
		return fmt.Sprintf("add foreign key %q", c.F.Symbol)
	case *schema.ModifyForeignKey:
		return fmt.Sprintf("modify foreign key %q", c.From.Symbol)
	case *schema.DropForeignKey:
		return fmt.Sprintf("drop foreign key %q", c.F.Symbol)
	case *schema.AddCheck:
		return fmt.Sprintf("add check %q", c.C.Name)
	case *schema.ModifyCheck:
		return fmt.Sprintf("modify check %q", c.From.Name)
	case *schema.DropCheck:
		return fmt.Sprintf("drop check %q", c.C.Name)
	}
	return fmt.Sprintf("%T", c)
}

func describeObject(o schema.Object) string {
	if e, ok := o.(*schema.EnumType); ok {
		return fmt.Sprintf("enum %q", e.T)
	}
	return fmt.Sprintf("%T", o)
}

// roundTripName returns a fresh name for the round trip's schema, in the engine's prefix.
func roundTripName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("apps: %w", err)
	}
	return ReservedPrefix + "roundtrip_" + hex.EncodeToString(b[:]), nil
}
