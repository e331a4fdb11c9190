package schemaset

import (
	"context"
	"database/sql"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"

	"github.com/pgschemas/pgschemas/internal/scoped"
)

// InspectForTest inspects the schema name as the engine does (scoped) or through Atlas' own
// queries, and returns which rewrites were made. jitOff turns JIT off in the transaction, as the
// engine does.
func InspectForTest(ctx context.Context, db *sql.DB, name string, scope, jitOff bool) (*schema.Schema, map[string]int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	if jitOff {
		if _, err := tx.ExecContext(ctx, "SET LOCAL jit = off"); err != nil {
			return nil, nil, err
		}
	}
	rewrote := map[string]int{}
	q := schema.ExecQuerier(tx)
	if scope {
		q = scoped.Querier{ExecQuerier: tx, Rewrote: func(n string) { rewrote[n]++ }}
	}
	drv, err := postgres.Open(q)
	if err != nil {
		return nil, nil, err
	}
	s, err := drv.InspectSchema(ctx, name, &schema.InspectOptions{Exclude: inspectExclude})
	return s, rewrote, err
}

// ScopedRewrites names the rewrites of Atlas' inspection queries.
func ScopedRewrites() []string { return scoped.Rewrites() }

// TenantListQuery is the query of ListTenants, for BenchmarkTenantList's EXPLAIN.
const TenantListQuery = tenantListQuery
