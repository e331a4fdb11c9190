package apps_test

import (
	"testing"
)

// TestMaterializeViewsAndFunctions: an app's SQL may declare views and functions, which the engine
// manages itself; they are created in the schema, and refused in any other (TestHostileCorpus).
func TestMaterializeViewsAndFunctions(t *testing.T) {
	tx := materialized(t, sqlApp("tenant", "a.sql", `CREATE TYPE level AS ENUM ('low', 'high');
CREATE TABLE tasks (id bigint PRIMARY KEY, plan_id bigint REFERENCES plans (id), level level NOT NULL DEFAULT 'low');
CREATE FUNCTION is_high(l level) RETURNS boolean LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT l = 'high'; END;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$BEGIN RETURN NEW; END$$;
CREATE VIEW urgent AS SELECT t.id, p.name FROM tasks t JOIN plans p ON p.id = t.plan_id WHERE is_high(t.level);
`))
	equal(t, "views", rows(t, tx, `SELECT viewname::text FROM pg_views WHERE schemaname = 'scratch'`), []string{"urgent"})
	equal(t, "functions", rows(t, tx, `SELECT proname::text FROM pg_proc WHERE pronamespace = 'scratch'::regnamespace ORDER BY 1`),
		[]string{"is_high", "touch"})
}

// TestMaterializePublicHCLSelfReference: public's own HCL app references its own tables as
// table.NAME while public already holds the tables of an earlier apply (the engine materialises
// public's apps in a scratch schema that stands for public). Atlas refused the reference as
// ambiguous ("multiple reference tables found") while public's live copy was in the HCL context;
// public's engine tables stay referenceable as table.public.NAME.
func TestMaterializePublicHCLSelfReference(t *testing.T) {
	tx := materialized(t, hclApp("shared", `table "plans" {
  column "id" {
    type = bigint
  }
  column "name" {
    type = text
  }
  primary_key {
    columns = [column.id]
  }
}
table "subscriptions" {
  column "tenant" {
    type = text
  }
  column "plan_id" {
    type = bigint
  }
  primary_key {
    columns = [column.tenant]
  }
  foreign_key "subscriptions_plan_id_fkey" {
    columns     = [column.plan_id]
    ref_columns = [table.plans.column.id]
  }
  foreign_key "subscriptions_tenant_fkey" {
    columns     = [column.tenant]
    ref_columns = [table.public.pgschemas_tenant.column.schema_name]
  }
}
`))
	equal(t, "foreign keys", rows(t, tx, `SELECT conname || ' ' || (SELECT relnamespace::regnamespace::text || '.' || relname FROM pg_class WHERE oid = confrelid) FROM pg_constraint
		WHERE conrelid = 'scratch.subscriptions'::regclass AND contype = 'f' ORDER BY 1`),
		[]string{"subscriptions_plan_id_fkey scratch.plans", "subscriptions_tenant_fkey public.pgschemas_tenant"})
}
