package httpx_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/pgschemas/pgschemas/httpx"
	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

// exampleDB opens the pgschemas driver on the tests' throwaway database, with the dynamic tenant
// acme on acme.example and globex in the folder /globex of shared.example, each with a notes
// table. In a service, the tenants come from schemaset, and the DSN from the configuration.
func exampleDB() *sql.DB {
	db, err := sql.Open("pgschemas", pgtest.ExampleDSN())
	if err != nil {
		log.Fatal(err)
	}
	if err := schemaset.EnsureRegistry(context.Background(), db); err != nil {
		log.Fatal(err)
	}
	_, err = db.Exec(`
		DROP SCHEMA IF EXISTS acme CASCADE; DROP SCHEMA IF EXISTS globex CASCADE;
		DELETE FROM public.pgschemas_tenant;
		CREATE SCHEMA acme;   CREATE TABLE acme.notes (title text);   INSERT INTO acme.notes VALUES ('ship the rockets');
		CREATE SCHEMA globex; CREATE TABLE globex.notes (title text); INSERT INTO globex.notes VALUES ('hire a villain');
		INSERT INTO public.pgschemas_tenant (schema_name) VALUES ('acme'), ('globex');
		INSERT INTO public.pgschemas_domain (domain, folder, tenant, is_primary) VALUES
			('acme.example', '', 'acme', true), ('shared.example', 'globex', 'globex', true);`)
	if err != nil {
		log.Fatal(err)
	}
	return db
}

// get sends a GET for url (the host taken from it) to h and prints the answer.
func get(h http.Handler, url string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	fmt.Printf("%s -> %d %s", url, rec.Code, rec.Body.String())
}

// The middleware routes each request to its tenant; the handler's queries run in that tenant's
// schema, and a folder tenant's handler sees paths without the folder.
func ExampleMiddleware() {
	db := exampleDB()
	defer db.Close()
	res, err := resolve.New(&schemaset.Config{Dynamic: &schemaset.Dynamic{}}, db, resolve.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer res.Close()

	notes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var title string
		if err := db.QueryRowContext(r.Context(), "SELECT title FROM notes").Scan(&title); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		t, _ := httpx.TenantFrom(r.Context())
		fmt.Fprintf(w, "%s sees %s: %s\n", t.Schema, r.URL.Path, title)
	})
	h := httpx.Middleware(res)(notes)

	get(h, "http://acme.example/notes")
	get(h, "http://shared.example/globex/notes")
	get(h, "http://unknown.example/notes")
	// Output:
	// http://acme.example/notes -> 200 acme sees /notes: ship the rockets
	// http://shared.example/globex/notes -> 200 globex sees /notes: hire a villain
	// http://unknown.example/notes -> 404 404 page not found
}

// A Router gives each static tenant its own handler, and the dynamic tenants one handler.
func ExampleRouter() {
	cfg := &schemaset.Config{Static: []schemaset.Static{
		{Name: "www", Domains: []string{"example.com"}},
		{Name: "docs", Domains: []string{"docs.example.com"}},
	}}
	res, err := resolve.New(cfg, nil, resolve.Options{}) // static tenants only: no database needed
	if err != nil {
		log.Fatal(err)
	}
	defer res.Close()
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, s) })
	}
	h := httpx.Middleware(res)(&httpx.Router{
		Static: map[string]http.Handler{"www": text("marketing site"), "docs": text("documentation")},
	})

	get(h, "http://example.com/")
	get(h, "http://docs.example.com/")
	get(h, "http://other.example.com/")
	// Output:
	// http://example.com/ -> 200 marketing site
	// http://docs.example.com/ -> 200 documentation
	// http://other.example.com/ -> 404 404 page not found
}

// Path puts the current tenant's folder back in front of a link.
func ExamplePath() {
	ctx := httpx.WithTenant(context.Background(), resolve.Tenant{Schema: "globex", Kind: resolve.KindDynamic,
		Domain: "shared.example", Folder: "globex"})
	fmt.Println(httpx.Path(ctx, "/notes/1"))
	// Output: /globex/notes/1
}

// AbsoluteURL links to a tenant's primary domain, for e-mails or links between tenants.
func ExampleAbsoluteURL() {
	t := resolve.Tenant{Schema: "globex", Kind: resolve.KindDynamic, Domain: "old.example",
		PrimaryDomain: "shared.example", PrimaryFolder: "globex"}
	fmt.Println("https:" + httpx.AbsoluteURL(t, "/notes/1"))
	// Output: https://shared.example/globex/notes/1
}

// Scope every cookie to the tenant's folder, so that tenants sharing a host do not share cookies.
func ExampleCookiePath() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: httpx.CookiePath(r.Context()),
			HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	}
	ctx := httpx.WithTenant(context.Background(), resolve.Tenant{Schema: "globex", Folder: "globex"})
	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	fmt.Println(rec.Header().Get("Set-Cookie"))
	// Output: session=s3cr3t; Path=/globex; HttpOnly; Secure; SameSite=Lax
}

// TenantFrom reads the tenant that the middleware resolved.
func ExampleTenantFrom() {
	ctx := httpx.WithTenant(context.Background(), resolve.Tenant{Schema: "acme", Kind: resolve.KindDynamic})
	t, ok := httpx.TenantFrom(ctx)
	fmt.Println(t.Schema, t.Kind, ok)
	_, ok = httpx.TenantFrom(context.Background())
	fmt.Println(ok)
	// Output:
	// acme dynamic true
	// false
}
