package schemaset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/schemaset"
)

// TestEvents: Options.OnEvent receives one event per tenant created (from the apps, cloned,
// claimed, copied), dropped, and per schema applied or failed, each with its duration, and
// nothing for what did not change.
func TestEvents(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	var log eventLog
	opts := schemaset.Options{OnEvent: log.add, PoolSize: 1}
	e := schemaset.New(sampleSet(t, nil), db, opts)
	mustApplyOnly(t, e, "public", "www", "blog")
	// No reference yet: from the apps, with the pool configured (TestCreateTenantWithPoolBeforeReference).
	if err := e.CreateTenant(ctx, "early"); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e, schemaset.ApplyOptions{}) // creates the reference, fills the pool
	for _, name := range []string{"claimed", "cloned"} {
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Clone(ctx, "cloned", "copied", true); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTenant(ctx, "cloned"); err == nil {
		t.Fatal("a second tenant cloned was created")
	}
	if err := e.DropTenant(ctx, "copied"); err != nil {
		t.Fatal(err)
	}
	got := summarize(log.take())
	want := []string{
		"applied apply public/public", "applied apply static/www", "applied apply static/blog",
		"created create_tenant dynamic/early apps",
		"applied apply reference/sample", // early was created at the apps' state: up to date
		"created create_tenant dynamic/claimed claimed", "created create_tenant dynamic/cloned cloned",
		"created create_tenant dynamic/copied copied", "failed create_tenant dynamic/cloned",
		"dropped drop_tenant dynamic/copied",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%q\nwant\n%q", got, want)
	}

	// An apply that changes the tenants' apps: one applied event per schema it changed; a refused
	// destructive change is a failed event.
	e2 := schemaset.New(sampleSet(t, addPinned(t)), db, opts)
	mustApply(t, e2, schemaset.ApplyOptions{})
	evs := log.take()
	got = summarize(evs)
	slices.Sort(got)
	want = []string{"applied apply dynamic/claimed", "applied apply dynamic/cloned", "applied apply dynamic/early", "applied apply reference/sample"}
	if !slices.Equal(got, want) {
		t.Errorf("events of an apply:\n%q\nwant\n%q", got, want)
	}
	for _, ev := range evs {
		if ev.Statements != 1 || ev.Duration <= 0 {
			t.Errorf("%s: %d statements in %v; want 1 and a duration", ev.Schema, ev.Statements, ev.Duration)
		}
	}
	notes := string(mustRead(t, "apps/tenant/notes.sql"))
	e3 := schemaset.New(sampleSet(t, map[string]string{"apps/tenant/notes.sql": strings.Replace(notes, "value   text NOT NULL,\n", "", 1)}), db, opts)
	targets, err := e3.Select(ctx, schemaset.Selector{Schemas: []string{"sample"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e3.Apply(ctx, targets, schemaset.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	evs = log.take()
	if len(evs) != 1 || evs[0].Kind != schemaset.EventFailed || !errors.Is(evs[0].Err, schemaset.ErrDestructive) {
		t.Errorf("events of a refused apply = %+v; want one failed with ErrDestructive", evs)
	}

	// LogEvents writes them through slog, with their fields at the top level.
	var buf bytes.Buffer
	logged := schemaset.New(e.Set(), db, schemaset.Options{OnEvent: schemaset.LogEvents(slog.New(slog.NewJSONHandler(&buf, nil)))})
	if err := logged.RenameTenant(ctx, "early", "late"); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if rec["msg"] != "pgschemas renamed" || rec["level"] != "INFO" || rec["kind"] != "renamed" || rec["op"] != "rename_tenant" ||
		rec["schema"] != "late" || rec["old_schema"] != "early" || rec["schema_kind"] != "dynamic" || rec["duration"] == nil {
		t.Errorf("logged event = %v", rec)
	}
}

// summarize gives "kind op schema_kind/schema source" per event.
func summarize(evs []schemaset.Event) []string {
	var out []string
	for _, ev := range evs {
		s := string(ev.Kind) + " " + ev.Op + " " + string(ev.SchemaKind) + "/" + ev.Schema
		if ev.Source != "" {
			s += " " + ev.Source
		}
		out = append(out, s)
	}
	return out
}
