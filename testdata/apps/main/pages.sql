CREATE TABLE pages (
  slug      text PRIMARY KEY,
  title     text NOT NULL,
  author_id bigint REFERENCES users (id) ON DELETE SET NULL
);
