-- Seeds the static tenant www when `schemaset demo` starts.
INSERT INTO users (email, role) VALUES ('webmaster@www.example.test', 'owner');

INSERT INTO pages (slug, title, author_id)
SELECT v.slug, v.title, u.id
FROM users u, (VALUES ('about', 'About pgschemas'), ('pricing', 'Pricing')) AS v(slug, title);
