-- Seeds public, shared by every tenant, when `schemaset demo` starts (after it created its tenants,
-- before it seeds them). The demo runs seed/public.sql in public, seed/NAME.sql in the static tenant
-- NAME, then seed/dynamic.sql in each dynamic tenant.
INSERT INTO plans (name, price_cents) VALUES ('free', 0), ('pro', 1900);

INSERT INTO subscriptions (tenant, plan_id)
SELECT t.schema_name, p.id
FROM pgschemas_tenant t JOIN plans p ON p.name = CASE WHEN t.schema_name = 'acme' THEN 'pro' ELSE 'free' END;
