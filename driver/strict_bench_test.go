package driver_test

import (
	"testing"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/internal/tenantsql"
)

// BenchmarkStrictSelect and BenchmarkStrictInsert compare strict mode with plain pgx stdlib, the
// baseline, on the benchmark database: strict mode with one tenant and with 100, as a login role
// of its own that is a member of t0..t99's roles. `benchstat -col /case` puts them side by side.
func BenchmarkStrictSelect(b *testing.B) { benchSerial(b, benchSelect, benchStrictCases) }
func BenchmarkStrictInsert(b *testing.B) { benchSerial(b, benchInsert, benchStrictCases) }

// benchStrictCases returns the cases of the strict benchmarks over the database at dsn, whose
// roles are made here and dropped when b ends.
func benchStrictCases(b *testing.B, dsn string) []*benchCase {
	login := loginRole(b, dsn)
	schemas := make([]string, benchTenants)
	for i := range schemas {
		schemas[i] = tenantsql.Schema(i)
	}
	tenantRoles(b, dsn, login, schemas...)
	strict := pgtest.WithParams(dsn, "user", login, driver.ParamStrict, "on")
	all := benchCases(dsn) // stdlib, one_tenant, two_tenants, 100_tenants
	one, hundred := all[1], all[3]
	return append(all[:1],
		&benchCase{name: "case=strict_one_tenant", driver: driver.DriverName, dsn: strict, ctxs: one.ctxs, seq: one.seq},
		&benchCase{name: "case=strict_100_tenants", driver: driver.DriverName, dsn: strict, ctxs: hundred.ctxs, seq: hundred.seq},
	)
}
