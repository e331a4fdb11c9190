// Package routing is what the engine (schemaset) and the router (resolve) share about routing,
// with no dependency on either: the names of the engine's channel and prefix, and the part of a
// set's configuration that a router reads. It keeps resolve and httpx from linking the engine,
// whose checks of app SQL use PostgreSQL's parser through cgo.
package routing

const (
	// DomainChannel is the LISTEN/NOTIFY channel on which a change to the domain table is
	// announced; the payload is the domain (host) that changed.
	DomainChannel = "pgschemas_domain"
	// ReservedPrefix is the prefix of every name the engine owns.
	ReservedPrefix = "pgschemas_"
	// TenantPayloadPrefix starts a DomainChannel payload that names a tenant rather than a
	// domain: a rename sends one for the old name and one for the new, so that routers forget what
	// they cached by name even for a tenant without domains. A host never holds ':', so no domain
	// payload starts so.
	TenantPayloadPrefix = "tenant:"
)

// Config is what a router reads of a set's configuration, checked: the static tenants with their
// domains, the reference's name, and whether dynamic tenants exist.
type Config struct {
	Dynamic   bool     // the set has dynamic tenants, routed by the domain table
	Reference string   // the reference schema's name, never routed; "" without one
	Static    []Static // the static tenants, in the config's order
}

// Static is a static tenant's routing.
type Static struct {
	Name            string
	Domains         []string // host or host/folder, as the config spells them
	FallbackDomains []string
}
