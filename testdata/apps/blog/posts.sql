CREATE TABLE posts (
  id         serial PRIMARY KEY,
  title      text NOT NULL,
  body       text NOT NULL DEFAULT '',
  author_id  bigint NOT NULL REFERENCES users (id),
  published  boolean NOT NULL DEFAULT false
);

CREATE INDEX posts_published_idx ON posts (id) WHERE published;
