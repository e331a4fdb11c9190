package schemaset

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// TenantInfo is one dynamic tenant as ListTenants gives it.
type TenantInfo struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Domains are the tenant's rows of the domain table, the primary first; empty for none.
	Domains []Domain `json:"domains"`
	// Stats is set when TenantListOptions.Stats asked for it.
	Stats *TenantStats `json:"stats,omitempty"`
}

// TenantStats are what the catalog says of a tenant's schema. They are PostgreSQL's estimates,
// read from pg_class without touching the tables (no lock, no file access): they are as of each
// table's last VACUUM, ANALYZE or CREATE INDEX, which autovacuum keeps recent, and are 0 for a
// table none of those has seen yet.
type TenantStats struct {
	// SizeBytes is the schema's size on disk: the pages of its tables, indexes, sequences,
	// materialized views and their TOAST tables, times the block size.
	SizeBytes int64 `json:"size_bytes"`
	// Tables counts the schema's tables (a partitioned table counts once, without its partitions).
	Tables int `json:"tables"`
	// EstimatedRows sums the estimated rows of its tables.
	EstimatedRows int64 `json:"estimated_rows"`
	// AppliedAt is when the schema was last brought to its apps' state (created or applied);
	// nil when the engine has no record of it.
	AppliedAt *time.Time `json:"applied_at"`
}

// TenantListOptions tune ListTenants.
type TenantListOptions struct {
	// Stats adds each tenant's TenantStats.
	Stats bool
}

// tenantListQuery gives each tenant with its domains, in one query; with $1, the stats too, from
// one pass over pg_class grouped by schema, whatever the number of tenants.
const tenantListQuery = `WITH d AS (
	SELECT tenant, json_agg(json_build_object('domain', domain, 'folder', folder, 'primary', is_primary,
		'redirect_to_primary', redirect_to_primary) ORDER BY is_primary DESC, domain, folder) AS domains
	FROM public.pgschemas_domain GROUP BY tenant
), s AS (
	SELECT n.nspname,
		count(*) FILTER (WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition) AS tables,
		coalesce(sum(greatest(c.reltuples, 0)) FILTER (WHERE c.relkind = 'r'), 0)::bigint AS rows,
		coalesce(sum(c.relpages::bigint + coalesce(tc.relpages, 0)), 0) * current_setting('block_size')::bigint AS size
	FROM public.pgschemas_tenant t
	JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
	JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid
	LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
	WHERE $1
	GROUP BY n.nspname
)
SELECT t.schema_name, t.created_at, coalesce(d.domains, '[]'),
	coalesce(s.size, 0), coalesce(s.tables, 0), coalesce(s.rows, 0), st.applied_at
FROM public.pgschemas_tenant t
LEFT JOIN d ON d.tenant = t.schema_name
LEFT JOIN s ON s.nspname = t.schema_name
LEFT JOIN public.pgschemas_schema_state st ON $1 AND st.schema_name = t.schema_name
ORDER BY t.schema_name`

// ListTenants returns every dynamic tenant, sorted by name, with its domains and, with
// opts.Stats, its TenantStats. It runs one query whatever the number of tenants.
func (e *Engine) ListTenants(ctx context.Context, opts TenantListOptions) ([]TenantInfo, error) {
	if err := e.ensureRegistry(ctx); err != nil {
		return nil, err
	}
	out := []TenantInfo{}
	err := sqlrows.Each(ctx, e.db, tenantListQuery, func(rows *sql.Rows) error {
		var t TenantInfo
		var domains []byte
		var st TenantStats
		var applied sql.NullTime
		if err := rows.Scan(&t.Name, &t.CreatedAt, &domains, &st.SizeBytes, &st.Tables, &st.EstimatedRows, &applied); err != nil {
			return err
		}
		if err := json.Unmarshal(domains, &t.Domains); err != nil {
			return err
		}
		if opts.Stats {
			if applied.Valid {
				st.AppliedAt = &applied.Time
			}
			t.Stats = &st
		}
		out = append(out, t)
		return nil
	}, opts.Stats)
	if err != nil {
		return nil, fmt.Errorf("schemaset: list tenants: %w", err)
	}
	return out, nil
}
