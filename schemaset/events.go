package schemaset

import (
	"context"
	"log/slog"
	"time"
)

// EventKind is what an Event reports.
type EventKind string

// The kinds of Event.
const (
	// EventCreated: a dynamic tenant was created (Event.Source says how).
	EventCreated EventKind = "created"
	// EventDropped: a dynamic tenant was dropped, with its schema, rows, domains and role.
	EventDropped EventKind = "dropped"
	// EventRenamed: a dynamic tenant was renamed from Event.OldSchema to Event.Schema.
	EventRenamed EventKind = "renamed"
	// EventDomainChanged: a tenant's domain (Event.Domain) was added, removed or made primary
	// (Event.Op says which).
	EventDomainChanged EventKind = "domain_changed"
	// EventApplied: Apply changed a schema and committed.
	EventApplied EventKind = "applied"
	// EventFailed: the operation Event.Op failed, or Apply refused a destructive plan; Event.Err
	// says why, and nothing of the operation was kept.
	EventFailed EventKind = "failed"
)

// The operations of Event.Op: the Engine method that emitted the event.
const (
	OpCreateTenant     = "create_tenant"
	OpDropTenant       = "drop_tenant"
	OpRenameTenant     = "rename_tenant"
	OpAddDomain        = "add_domain"
	OpRemoveDomain     = "remove_domain"
	OpSetPrimaryDomain = "set_primary_domain"
	OpApply            = "apply"
)

// The sources of a created tenant (Event.Source).
const (
	SourceClaimed = "claimed" // a pre-cloned schema taken from the pool and renamed
	SourceCloned  = "cloned"  // a copy of the reference, rows included
	SourceApps    = "apps"    // built from the apps' desired state
	SourceCopied  = "copied"  // Clone with tenant: a copy of another schema
)

// Event is one change to a tenant or a schema, given to Options.OnEvent once the change committed
// (or, for EventFailed, once it was rolled back). It is a plain value; the json tags are those of
// the CLI's --log-format json.
type Event struct {
	// Time is when the operation ended, Duration how long it took.
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration_ns"`
	Kind     EventKind     `json:"kind"`
	// Op is the operation, one of the Op constants.
	Op string `json:"op"`
	// Schema is the tenant or schema; for a rename its new name, and OldSchema its old one.
	Schema     string `json:"schema"`
	SchemaKind Kind   `json:"schema_kind"`
	OldSchema  string `json:"old_schema,omitempty"`
	// Source says how a created tenant was made: SourceClaimed, SourceCloned, SourceApps or
	// SourceCopied.
	Source string `json:"source,omitempty"`
	// Domain is the HOST or HOST/FOLDER of a domain event.
	Domain string `json:"domain,omitempty"`
	// Statements and Steps count what an apply ran in the schema.
	Statements int `json:"statements,omitempty"`
	Steps      int `json:"steps,omitempty"`
	// Err is the failure of an EventFailed.
	Err error `json:"-"`
}

// LogValue gives the event's fields as a group, so that a logger prints them all:
// logger.Info("pgschemas", "event", ev).
func (ev Event) LogValue() slog.Value {
	return slog.GroupValue(ev.attrs()...)
}

func (ev Event) attrs() []slog.Attr {
	a := []slog.Attr{
		slog.String("kind", string(ev.Kind)), slog.String("op", ev.Op),
		slog.String("schema", ev.Schema), slog.String("schema_kind", string(ev.SchemaKind)),
	}
	add := func(key, v string) {
		if v != "" {
			a = append(a, slog.String(key, v))
		}
	}
	add("old_schema", ev.OldSchema)
	add("source", ev.Source)
	add("domain", ev.Domain)
	if ev.Statements > 0 || ev.Steps > 0 {
		a = append(a, slog.Int("statements", ev.Statements), slog.Int("steps", ev.Steps))
	}
	a = append(a, slog.Duration("duration", ev.Duration))
	if ev.Err != nil {
		a = append(a, slog.String("error", ev.Err.Error()))
	}
	return a
}

// LogEvents returns an Options.OnEvent that logs each event to logger: message "pgschemas
// <kind>", level Error for EventFailed and Info otherwise, and the event's fields as attributes
// at the top level (kind, op, schema, schema_kind, old_schema, source, domain, statements, steps,
// duration, error). Any slog.Handler works, OpenTelemetry's log bridge (otelslog) included.
func LogEvents(logger *slog.Logger) func(Event) {
	return func(ev Event) {
		level := slog.LevelInfo
		if ev.Kind == EventFailed {
			level = slog.LevelError
		}
		logger.LogAttrs(context.Background(), level, "pgschemas "+string(ev.Kind), ev.attrs()...)
	}
}

// event gives ev to Options.OnEvent, if set, with its time and its duration since start, and
// EventFailed with err when err is not nil.
func (e *Engine) event(start time.Time, ev Event, err error) {
	if e.opts.OnEvent == nil {
		return
	}
	ev.Time = time.Now()
	ev.Duration = ev.Time.Sub(start)
	if err != nil {
		ev.Kind, ev.Err = EventFailed, err
	}
	e.opts.OnEvent(ev)
}

// resultEvent gives the event of one schema that Apply changed, refused or failed.
func (e *Engine) resultEvent(r Result) {
	ev := Event{Kind: EventApplied, Op: OpApply, Schema: r.Schema, SchemaKind: r.Kind,
		Statements: len(r.Statements), Steps: len(r.Steps)}
	switch {
	case e.opts.OnEvent == nil:
		return
	case r.Err != nil:
		ev.Kind, ev.Err = EventFailed, r.Err
	case r.Outcome != OutcomeApplied:
		return
	}
	ev.Time, ev.Duration = time.Now(), r.Duration
	e.opts.OnEvent(ev)
}
