package httpx_test

// The example of README.md's routing section, kept here so that it compiles and runs: the
// README's Go blocks must each stand, line for line, in an Example (internal/readme checks it).

import (
	"fmt"
	"log"
	"net/http"

	"github.com/pgschemas/pgschemas/httpx"
	"github.com/pgschemas/pgschemas/resolve"
	"github.com/pgschemas/pgschemas/schemaset"
)

// Route each request to its tenant: the sample's static tenant www on localhost, and the dynamic
// tenants acme (acme.example) and globex (the folder /globex of shared.example).
func Example_routing() {
	db := exampleDB() // the pgschemas driver
	defer db.Close()
	set, err := schemaset.LoadFile("../testdata/pgschemas.hcl")
	if err != nil {
		log.Fatal(err)
	}
	wwwSite := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the www site") })

	tenantApp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := httpx.TenantFrom(r.Context()) // t.Schema, t.Domain, t.Folder, ...
		var title string
		// r.Context() carries t's schema: this reads t.Schema's notes.
		if err := db.QueryRowContext(r.Context(), "SELECT title FROM notes").Scan(&title); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// A folder tenant's handler sees paths without its folder; httpx.Path puts it back in links.
		fmt.Fprintf(w, "%s: %s (more at %s)\n", t.Schema, title, httpx.Path(r.Context(), "/notes"))
	})

	res, err := resolve.New(set.Config, db, resolve.Options{}) // db: a pgschemas *sql.DB
	if err != nil {
		log.Fatal(err)
	}
	defer res.Close()
	handler := httpx.Middleware(res)(&httpx.Router{
		Static:  map[string]http.Handler{"www": wwwSite}, // static tenants, by name
		Dynamic: tenantApp,                               // every dynamic tenant
	})
	// http.ListenAndServe(":8080", handler)

	get(handler, "http://localhost:8080/")
	get(handler, "http://acme.example/")
	get(handler, "http://shared.example/globex/")
	get(handler, "http://unknown.example/")
	// Output:
	// http://localhost:8080/ -> 200 the www site
	// http://acme.example/ -> 200 acme: ship the rockets (more at /notes)
	// http://shared.example/globex/ -> 200 globex: hire a villain (more at /globex/notes)
	// http://unknown.example/ -> 404 404 page not found
}
