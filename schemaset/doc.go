// Package schemaset is the declarative engine of pgschemas: the counterpart of django-pgschemas'
// TENANTS setting, its SyncRouter and migrateschema.
//
// A Config (loaded from pgschemas.hcl, or built in Go) assigns apps to public (shared by every
// tenant), to static tenants named in the config, and to dynamic tenants, which are rows of the
// pgschemas_tenant table in public. The reference schema, when one is configured, takes the dynamic
// tenants' apps; it is static and never routed.
//
// The engine works in the separate steps that Atlas uses: the desired state of each schema is the
// union of its apps, computed by materialising them in a scratch schema inside a transaction that is
// always rolled back; each live schema is inspected and diffed against it; the diff becomes a Plan,
// which is data and can be printed; and Apply runs each schema's plan in one transaction of its own.
// Plan and Status change no schema: a schema's pending steps run in a scratch copy of its structure
// (plan_scratch.go).
//
// At scale (thousands of tenants in one database), three things keep a run short. The records: a
// schema recorded at its desired state's fingerprint is up to date without an inspection, so an
// apply with nothing to do is one query. Plan once, apply many: of the dynamic tenants recorded at
// one fingerprint, one is inspected and diffed, and the others replay its plan in one round trip
// each (see shared.go). And the catalog: every query the engine, the app loader and Atlas'
// inspection (through internal/scoped) run is led by an index from the schema, never a scan of the
// whole catalog, and the engine's transactions turn jit off, which such queries never gain from.
//
// On a Citus coordinator (citus.go), every schema but public is a distributed schema on a worker
// node, public's app tables are reference tables, and MoveTenant, Rebalance and Placements place
// the tenants; on plain PostgreSQL nothing of it runs.
//
// CreateTenant makes a dynamic tenant's schema in the cheapest way available: by claiming a
// pre-cloned copy of the reference from the warm pool (dynamic { pool = N }; see FillPool), which
// is one rename; else by cloning the reference (see Clone); else from the apps.
//
// Operating tenants: AddDomain, RemoveDomain, SetPrimaryDomain and Domains manage the domain
// table, whose every change reaches the routers of every process (resolve) within a second;
// RenameTenant renames a tenant whole; ListTenants lists the tenants with their domains and, in
// the same one query, their size, tables, estimated rows and last apply. Every host and folder is
// checked, and an internationalized host stored in punycode, by one set of rules
// (internal/domainname; ErrInvalidDomain). Options.OnEvent receives one Event per tenant created,
// dropped, renamed or whose domain changed, and per schema applied or failed; LogEvents logs them
// through log/slog.
package schemaset
