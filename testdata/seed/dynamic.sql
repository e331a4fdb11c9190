-- Seeds each dynamic tenant when `schemaset demo` starts. It runs once per tenant, in the tenant's
-- schema: unqualified names are the tenant's tables (then public's), and current_schema() is the
-- tenant's name.
INSERT INTO users (email, role, plan_id) VALUES
  ('owner@' || current_schema() || '.test', 'owner', (SELECT plan_id FROM subscriptions WHERE tenant = current_schema())),
  ('member@' || current_schema() || '.test', 'member', NULL);

INSERT INTO notes (author_id, body)
SELECT u.id, v.body
FROM users u, (VALUES
  (1, 'Welcome to ' || current_schema() || '! This note lives in the schema ' || current_schema() || '.'),
  (2, 'Only ' || current_schema() || ' sees its notes: the driver sets the search path of each query.')
) AS v(n, body)
WHERE u.role = 'owner'
ORDER BY v.n;

INSERT INTO settings (key, value) VALUES ('theme', 'light');
