package driver_test

import (
	"fmt"
	"testing"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// BenchmarkStrictSelect and BenchmarkStrictInsert compare strict mode with the plain modes on the
// benchmark database: the baseline is session_one_tenant (plain session mode, one tenant), then
// session_100_tenants, the pooler mode (strict mode's machinery, without the role), and strict
// mode, with one tenant and with 100, as a login role of its own that is a member of t0..t99's
// roles. `benchstat -col /case` puts them side by side.
func BenchmarkStrictSelect(b *testing.B) { benchSerial(b, benchSelect, benchStrictCases) }
func BenchmarkStrictInsert(b *testing.B) { benchSerial(b, benchInsert, benchStrictCases) }

// benchStrictCases returns the cases of the strict benchmarks over the database at dsn, whose
// roles are made here and dropped when b ends.
func benchStrictCases(b *testing.B, dsn string) []*benchCase {
	login := loginRole(b, dsn)
	schemas := make([]string, benchTenants)
	for i := range schemas {
		schemas[i] = fmt.Sprintf("t%d", i)
	}
	tenantRoles(b, dsn, login, schemas...)
	strict := pgtest.WithParams(dsn, "user", login, driver.ParamStrict, "on")
	all := benchPoolerCases(b, dsn)[:4] // session_one_tenant, session_100_tenants, pooler_one_tenant, pooler_100_tenants
	one, hundred := all[0], all[1]
	return append(all,
		&benchCase{name: "case=strict_one_tenant", driver: driver.DriverName, dsn: strict, ctxs: one.ctxs, seq: one.seq},
		&benchCase{name: "case=strict_100_tenants", driver: driver.DriverName, dsn: strict, ctxs: hundred.ctxs, seq: hundred.seq},
	)
}
