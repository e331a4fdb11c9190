// Package tenantsql writes the SQL that the driver's tests and benchmarks, and bench/servercost,
// make their tenants with: schemas t0, t1, ... each holding an items table with rows, a login role
// for strict mode, and each schema's tenant role with the grants that the engine gives it
// (schemaset's roles.go). The driver's tests and the server-cost counter are separate programs and
// must build the same database, so the SQL is written once, here.
package tenantsql
