package schemaset_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/schemaset"
)

// TestErrorsKeepDetailHintAndPosition: a failed step's error keeps PostgreSQL's DETAIL (a
// duplicate key's value), HINT and position, in its text and in its ErrorDetail, with the step's
// app, file and line.
func TestErrorsKeepDetailHintAndPosition(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	mustApply(t, schemaset.New(sampleSet(t, nil), db, schemaset.Options{}), schemaset.ApplyOptions{})
	if _, err := db.Exec(`INSERT INTO blog.users (email) VALUES ('a@x'); INSERT INTO blog.posts (id, title, author_id) VALUES (1, 'Hello', 1)`); err != nil {
		t.Fatal(err)
	}
	const path = "apps/blog/steps/0001_x.sql"
	for _, tc := range []struct {
		name, sql string
		want      schemaset.ErrorDetail
		text      []string
	}{
		{
			name: "duplicate key", sql: "UPDATE posts SET body = 'x';\n-- a copy\nINSERT INTO posts (id, title, author_id)\n  VALUES (1, 'again', 1);\n",
			want: schemaset.ErrorDetail{Step: "blog/0001_x", App: "blog", File: "blog/steps/0001_x.sql", Line: 3, Code: "23505", Detail: "Key (id)=(1) already exists."},
			text: []string{`static "blog": step blog/0001_x: app "blog": blog/steps/0001_x.sql:3: ERROR: duplicate key value`, "\nDETAIL: Key (id)=(1) already exists."},
		},
		{
			name: "hint and position", sql: "SELECT 1;\nSELECT\n  no_such_function(1);\n",
			want: schemaset.ErrorDetail{Step: "blog/0001_x", App: "blog", File: "blog/steps/0001_x.sql", Line: 3, Code: "42883",
				Hint: "No function matches the given name and argument types. You might need to add explicit type casts.", Position: 10},
			text: []string{"blog/steps/0001_x.sql:3: ERROR: function no_such_function(integer) does not exist (SQLSTATE 42883)\nHINT: No function matches"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := schemaset.New(sampleSet(t, map[string]string{path: tc.sql}), db, schemaset.Options{})
			rep, err := e.Apply(ctx, []schemaset.Target{{Schema: "blog", Kind: schemaset.KindStatic}}, schemaset.ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = rep.Err()
			d := schemaset.DetailOf(err)
			if d == nil {
				t.Fatal("the step did not fail")
			}
			tc.want.Message = d.Message
			if *d != tc.want {
				t.Errorf("DetailOf = %+v, want %+v", *d, tc.want)
			}
			for _, part := range tc.text {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error text %q does not hold %q", err, part)
				}
			}
		})
	}
}
