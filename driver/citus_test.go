package driver_test

import (
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/internal/citustest"
	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// newDatabase makes the throwaway database of a behaviour test: on the Citus cluster of
// PGSCHEMAS_CITUS_DSN for the tests named TestCitus... (skipped without one), where every tenant
// schema the test creates is a distributed schema (the cluster has
// citus.enable_schema_based_sharding on) and every statement goes through the coordinator; else on
// the local server.
func newDatabase(t testing.TB) string {
	t.Helper()
	if strings.HasPrefix(t.Name(), "TestCitus") {
		return citustest.NewDatabase(t)
	}
	return pgtest.NewDatabase(t)
}

// citusPoolCases are the pool cases on a direct connection to the coordinator.
var citusPoolCases = poolCases[:2]

// The driver's behaviour tests, unchanged, through a Citus coordinator, with the tenants in
// distributed schemas on the workers: routing by search_path is Citus', the driver's SET and
// checks are the same.

func TestCitusEveryOperationRunsInTheContextSchema(t *testing.T) {
	citustest.SkipUnderRace(t)
	eachPoolCase(t, citusPoolCases, testEveryOperationRunsInTheContextSchema)
}

func TestCitusMissingSchemaNeverFallsThroughToPublic(t *testing.T) {
	citustest.SkipUnderRace(t)
	eachPoolCase(t, citusPoolCases, func(t *testing.T, pc poolCase) {
		testMissingSchemaNeverFallsThroughToPublic(t, pc.dsn(t, tenantDB(t, "a")))
	})
}

func TestCitusTransactionIsBoundToItsSchema(t *testing.T) {
	citustest.SkipUnderRace(t)
	eachPoolCase(t, citusPoolCases, func(t *testing.T, pc poolCase) {
		testTransactionIsBoundToItsSchema(t, pc.dsn(t, tenantDB(t, "a", "b")))
	})
}

func TestCitusRollbackNeverLeavesAStalePath(t *testing.T) {
	citustest.SkipUnderRace(t)
	eachPoolCase(t, citusPoolCases, func(t *testing.T, pc poolCase) {
		testRollbackNeverLeavesAStalePath(t, pc.dsn(t, tenantDB(t, "a", "b")))
	})
}

// TestCitusStatementCachesNeverCrossSchemas: prepared statements, in every pgx exec mode, through
// the coordinator, over tenants whose tables differ in type.
func TestCitusStatementCachesNeverCrossSchemas(t *testing.T) {
	citustest.SkipUnderRace(t)
	eachPoolCase(t, citusPoolCases, testStatementCachesNeverCrossSchemas)
}

// TestCitusIsolationUnderLoad is TestIsolationUnderLoad through the coordinator, with a tenth of
// its operations (each crosses to a worker).
func TestCitusIsolationUnderLoad(t *testing.T) {
	l := runIsoLoad(t, isoRun{conns: 4, total: 10_000})
	l.wantClean(t)
}

// TestCitusPoolIsolationUnderLoad is TestPoolIsolationUnderLoad (pgxpool) through the coordinator.
func TestCitusPoolIsolationUnderLoad(t *testing.T) { testPoolIsolationUnderLoad(t) }

// onCitus reports whether t runs on the Citus cluster (newDatabase).
func onCitus(t testing.TB) bool { return strings.HasPrefix(t.Name(), "TestCitus") }

// currentSchemaOK reports whether the current_schema() that a count of the load read is its
// target's. Through a Citus coordinator, a query on a distributed schema's table runs whole on the
// worker that holds it, where current_schema() is the worker session's ("public"), while the
// coordinator resolved the table by the client's search path; there the owners of the rows it
// counted, which the load checks too, prove the path.
func currentSchemaOK(cur, owner string, citus bool) bool {
	return cur == owner || citus && cur == "public"
}
