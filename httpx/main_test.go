package httpx

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// setupSQL makes a set whose every schema, public included, has a notes table whose one title
// names the schema: a query that lands in the wrong schema shows it. acme is on acme.test (its
// primary) and old.test (which redirects there); globex and initech are folders of shared.test,
// and sub is on shared.test without a folder.
const setupSQL = `
CREATE TABLE public.notes (title text);
INSERT INTO public.notes VALUES ('public');
CREATE SCHEMA www;     CREATE TABLE www.notes (title text);     INSERT INTO www.notes VALUES ('www');
CREATE SCHEMA acme;    CREATE TABLE acme.notes (title text);    INSERT INTO acme.notes VALUES ('acme');
CREATE SCHEMA globex;  CREATE TABLE globex.notes (title text);  INSERT INTO globex.notes VALUES ('globex');
CREATE SCHEMA initech; CREATE TABLE initech.notes (title text); INSERT INTO initech.notes VALUES ('initech');
CREATE SCHEMA sub;     CREATE TABLE sub.notes (title text);     INSERT INTO sub.notes VALUES ('sub');
INSERT INTO public.pgschemas_tenant (schema_name) VALUES ('acme'), ('globex'), ('initech'), ('sub'), ('public');
INSERT INTO public.pgschemas_domain (domain, folder, tenant, is_primary, redirect_to_primary) VALUES
	('acme.test', '', 'acme', true, false),
	('old.test', '', 'acme', false, true),
	('shared.test', 'globex', 'globex', true, false),
	('shared.test', 'initech', 'initech', false, false),
	('shared.test', 'caf' || chr(233), 'initech', false, false),
	('shared.test', '', 'sub', false, false),
	('public.test', '', 'public', false, false);`

// testConfig has the static tenant www on www.test, and the dynamic tenants.
func testConfig() *schemaset.Config {
	return &schemaset.Config{
		Static:  []schemaset.Static{{Name: "www", Domains: []string{"www.test"}}, {Name: "admin", Domains: []string{"admin.test"}}},
		Dynamic: &schemaset.Dynamic{},
	}
}

// setup returns a pgschemas *sql.DB on a fresh database holding setupSQL, and a resolver on it.
func setup(t testing.TB) (*sql.DB, *resolve.Resolver) {
	t.Helper()
	db, err := sql.Open("pgschemas", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := schemaset.EnsureRegistry(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(setupSQL); err != nil {
		t.Fatal(err)
	}
	res, err := resolve.New(testConfig(), db, resolve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return db, res
}

// notesHandler answers with what it sees: the tenant, the URL it got, and the title of the notes
// table its query reached through the request's context.
func notesHandler(db *sql.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := TenantFrom(r.Context())
		var title string
		if err := db.QueryRowContext(r.Context(), "SELECT title FROM notes").Scan(&title); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s %s folder=%q path=%q raw=%q notes=%s", t.Kind, t.Schema, t.Folder, r.URL.Path, r.URL.RawPath, title)
	})
}

// serve sends a request for target with the Host header host through h, and returns the recorder.
func serve(h http.Handler, host, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// body returns the recorder's status and body.
func body(rec *httptest.ResponseRecorder) string {
	b, _ := io.ReadAll(rec.Result().Body)
	return fmt.Sprintf("%d %s", rec.Code, b)
}
