-- Each dynamic tenant's notes. plan_id points into public (the shared app).
CREATE TABLE notes (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  author_id  bigint REFERENCES users (id) ON DELETE CASCADE,
  body       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notes_author_idx ON notes (author_id, created_at DESC);

CREATE TABLE settings (
  key     text PRIMARY KEY,
  value   text NOT NULL,
  plan_id bigint REFERENCES plans (id)
);
