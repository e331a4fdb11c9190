-- Seeds the static tenant blog when `schemaset demo` starts.
INSERT INTO users (email, role) VALUES ('editor@blog.example.test', 'owner');

INSERT INTO posts (title, body, author_id, published)
SELECT v.title, v.body, u.id, v.published
FROM users u, (VALUES
  ('Schema per tenant in Go', 'One schema per tenant, one search path per query.', true),
  ('A draft', 'Not published: the blog lists published posts only.', false)
) AS v(title, body, published);
