// Package resolve finds the tenant of a request from its host name and first path folder: static
// domains, then the domain table, then fallback domains, with a cache. (Being built: see the
// routing issue.)
package resolve
