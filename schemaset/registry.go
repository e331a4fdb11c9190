package schemaset

import (
	"context"
	"fmt"
	"github.com/pgschemas/pgschemas/internal/routing"

	"database/sql"
)

// The engine's own tables live in public and share the reserved prefix "pgschemas_"; apps may not
// declare names with that prefix, and the public diff never touches them.
const (
	// TenantTable holds one row per dynamic tenant. Public apps may reference its primary key,
	// schema_name, as Django users extend TenantModel.
	TenantTable = "pgschemas_tenant"
	// DomainTable maps a host and an optional first path folder to a tenant.
	DomainTable = "pgschemas_domain"
	// StateTable records, per schema, the desired-state fingerprint it was last brought to.
	StateTable = "pgschemas_schema_state"
	// StepTable records the one-time SQL steps that ran, per schema and app.
	StepTable = "pgschemas_step"
	// PoolTable holds one row per pooled schema (pool.go): a pre-cloned copy of the reference,
	// named pgschemas_pool_<n>, with the fingerprint it was filled at. It has no tenant row.
	PoolTable = "pgschemas_pool"
	// DomainChannel is the LISTEN/NOTIFY channel on which a change to the domain table is
	// announced; the payload is the domain (host) that changed.
	DomainChannel = routing.DomainChannel
	// ReservedPrefix is the prefix of every name the engine owns.
	ReservedPrefix = routing.ReservedPrefix
)

// registryLockKey is the advisory lock taken while the registry is created, so that processes that
// start together do not race on CREATE TABLE IF NOT EXISTS.
const registryLockKey = 0x7067736368656d61 // "pgschema"

// registryDDL creates the engine's tables in public. Every statement is idempotent.
var registryDDL = []string{
	`CREATE TABLE IF NOT EXISTS public.pgschemas_tenant (
	schema_name text PRIMARY KEY
		CONSTRAINT pgschemas_tenant_valid_name CHECK (schema_name ~ '^[_a-zA-Z][_a-zA-Z0-9]{0,62}$' AND schema_name !~* '^pg_'),
	created_at timestamptz NOT NULL DEFAULT now()
)`,
	`CREATE TABLE IF NOT EXISTS public.pgschemas_domain (
	domain text NOT NULL CONSTRAINT pgschemas_domain_valid_domain CHECK (domain <> '' AND domain = lower(domain)),
	folder text NOT NULL DEFAULT '' CONSTRAINT pgschemas_domain_valid_folder CHECK (position('/' in folder) = 0),
	tenant text NOT NULL REFERENCES public.pgschemas_tenant (schema_name) ON DELETE CASCADE,
	is_primary boolean NOT NULL DEFAULT false,
	redirect_to_primary boolean NOT NULL DEFAULT false,
	PRIMARY KEY (domain, folder)
)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS pgschemas_domain_one_primary ON public.pgschemas_domain (tenant) WHERE is_primary`,
	`CREATE INDEX IF NOT EXISTS pgschemas_domain_tenant ON public.pgschemas_domain (tenant)`,
	`CREATE TABLE IF NOT EXISTS public.pgschemas_schema_state (
	schema_name text PRIMARY KEY,
	kind text NOT NULL,
	fingerprint text NOT NULL,
	apps text[] NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`,
	`CREATE TABLE IF NOT EXISTS public.pgschemas_step (
	schema_name text NOT NULL,
	app text NOT NULL,
	step text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schema_name, app, step)
)`,
	`CREATE TABLE IF NOT EXISTS public.pgschemas_pool (
	schema_name text PRIMARY KEY CONSTRAINT pgschemas_pool_valid_name CHECK (schema_name ~ '^pgschemas_pool_[0-9]+$'),
	fingerprint text NOT NULL,
	source text NOT NULL,
	filled_at timestamptz NOT NULL DEFAULT now()
)`,
	`CREATE OR REPLACE FUNCTION public.pgschemas_domain_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		PERFORM pg_notify('pgschemas_domain', OLD.domain);
	END IF;
	IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.domain IS DISTINCT FROM OLD.domain) THEN
		PERFORM pg_notify('pgschemas_domain', NEW.domain);
	END IF;
	RETURN NULL;
END
$$`,
	`CREATE OR REPLACE TRIGGER pgschemas_domain_notify AFTER INSERT OR UPDATE OR DELETE ON public.pgschemas_domain
	FOR EACH ROW EXECUTE FUNCTION public.pgschemas_domain_notify()`,
}

// EnsureRegistry creates the engine's tables, indexes and the domain-change trigger in public when
// they are missing. It is safe to call from many processes at once, and cheap when all exist.
func EnsureRegistry(ctx context.Context, db *sql.DB) error {
	var ok bool
	// Fast path: everything is there (the trigger is created last).
	err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
		JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname = 'pgschemas_domain' AND t.tgname = 'pgschemas_domain_notify')
		AND to_regclass('public.pgschemas_step') IS NOT NULL AND to_regclass('public.pgschemas_pool') IS NOT NULL`).Scan(&ok)
	if err != nil {
		return fmt.Errorf("schemaset: check the registry tables: %w", err)
	}
	if ok {
		return nil
	}
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(registryLockKey)); err != nil {
			return err
		}
		for _, stmt := range registryDDL {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("schemaset: create the registry in public: %w", err)
			}
		}
		return nil
	})
}
