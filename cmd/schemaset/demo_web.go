package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pgschemas/pgschemas/httpx"
	"github.com/pgschemas/pgschemas/resolve"
)

// demoWeb is the demo's web app: notes for every dynamic tenant, and a page for each static tenant
// of the sample. Every query goes through db, a pgschemas driver pool, with the request's context,
// to which httpx.Middleware added the tenant's schema: the queries name no tenant's schema.
type demoWeb struct {
	db    *sql.DB
	log   *slog.Logger
	port  int
	links []demoLink
}

// maxNote bounds a note's body, in characters.
const maxNote = 500

// handler routes each request to its tenant (httpx.Middleware), then to the tenant's handler
// (httpx.Router): the notes app for the dynamic tenants, a listing for www and blog.
func (web *demoWeb) handler(res *resolve.Resolver) http.Handler {
	notes := http.NewServeMux()
	notes.HandleFunc("GET /{$}", web.listNotes(false))
	notes.HandleFunc("POST /{$}", web.addNote(false))
	notes.HandleFunc("GET /api/notes", web.listNotes(true))
	notes.HandleFunc("POST /api/notes", web.addNote(true))
	return httpx.Middleware(res, httpx.Options{NotFound: http.HandlerFunc(web.notFound), Error: web.routeError})(&httpx.Router{
		Static: map[string]http.Handler{
			"www": web.listing("Pages", `SELECT title, '' FROM pages ORDER BY slug`,
				"Tenants", `SELECT tenant, domain, folder FROM public.pgschemas_domain WHERE is_primary ORDER BY tenant`),
			"blog": web.listing("Published posts", `SELECT title, '' FROM posts WHERE published ORDER BY id`),
		},
		Dynamic: notes,
	})
}

// note is one row of a tenant's notes, with its author's email.
type note struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	Author    string    `json:"author,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// notesJSON is the answer of GET /api/notes.
type notesJSON struct {
	Tenant string `json:"tenant"`
	Notes  []note `json:"notes"`
}

// noteJSON is the answer of POST /api/notes.
type noteJSON struct {
	Tenant string `json:"tenant"`
	Note   note   `json:"note"`
}

const (
	notesQuery = `SELECT n.id, n.body, coalesce(u.email, ''), n.created_at
FROM notes n LEFT JOIN users u ON u.id = n.author_id ORDER BY n.id`
	// A new note's author is the tenant's owner: the app has no login.
	insertNote = `WITH n AS (
  INSERT INTO notes (author_id, body)
  VALUES ((SELECT id FROM users WHERE role = 'owner' ORDER BY id LIMIT 1), $1)
  RETURNING id, author_id, body, created_at)
SELECT n.id, n.body, coalesce(u.email, ''), n.created_at FROM n LEFT JOIN users u ON u.id = n.author_id`
)

// queryAll runs query through db, in the schema of ctx's tenant, and scans each row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, query string, scan func(*sql.Rows, *T) error, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

// queryNotes runs a query that returns notes.
func (web *demoWeb) queryNotes(ctx context.Context, query string, args ...any) ([]note, error) {
	return queryAll(ctx, web.db, query, func(rows *sql.Rows, n *note) error {
		return rows.Scan(&n.ID, &n.Body, &n.Author, &n.CreatedAt)
	}, args...)
}

var notesTemplate = template.Must(template.New("notes").Parse(`<!doctype html>
<meta charset="utf-8">
<title>{{.Tenant.Schema}}: notes</title>
<h1>Notes of {{.Tenant.Schema}}</h1>
<p>Tenant <code>{{.Tenant.Schema}}</code>, matched by host <code>{{.Tenant.Domain}}</code>
{{- with .Tenant.Folder}} and folder <code>{{.}}</code>{{end}}. Its rows live in schema
<code>{{.Tenant.Schema}}</code>; no other tenant sees them.</p>
<ul>
{{- range .Notes}}
<li>{{.Body}} <small>({{.Author}}, {{.CreatedAt.Format "2006-01-02 15:04:05"}})</small></li>
{{- else}}
<li>No notes yet.</li>
{{- end}}
</ul>
<form method="post" action="{{.Action}}">
<input name="body" maxlength="500" size="50" placeholder="A note for {{.Tenant.Schema}}" required autofocus>
<button>Add</button>
</form>
<p>JSON: <a href="{{.API}}">{{.API}}</a></p>
`))

// listNotes is GET /api/notes (asJSON), and GET /: the tenant's notes and a form to add one.
func (web *demoWeb) listNotes(asJSON bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		notes, err := web.queryNotes(r.Context(), notesQuery)
		if err != nil {
			web.fail(w, r, err)
			return
		}
		t, _ := httpx.TenantFrom(r.Context())
		if asJSON {
			writeJSONStatus(w, http.StatusOK, notesJSON{Tenant: t.Schema, Notes: append([]note{}, notes...)})
			return
		}
		// Handlers see paths without the tenant's folder: httpx.Path puts it back in links.
		web.html(w, r, notesTemplate, map[string]any{
			"Tenant": t, "Notes": notes, "Action": httpx.Path(r.Context(), "/"), "API": httpx.Path(r.Context(), "/api/notes"),
		})
	}
}

// addNote is POST /api/notes (asJSON), with {"body": "..."} or a form's body=..., which answers 201
// and the note; and POST / from the page's form, which goes back to the page.
func (web *demoWeb) addNote(asJSON bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, ok := web.add(w, r)
		switch {
		case !ok:
		case asJSON:
			t, _ := httpx.TenantFrom(r.Context())
			writeJSONStatus(w, http.StatusCreated, noteJSON{Tenant: t.Schema, Note: n})
		default:
			http.Redirect(w, r, httpx.Path(r.Context(), "/"), http.StatusSeeOther)
		}
	}
}

// add reads a note from r, JSON or a form, and inserts it; it answers the request itself when it
// cannot.
func (web *demoWeb) add(w http.ResponseWriter, r *http.Request) (note, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var in struct {
		Body string `json:"body"`
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "want a JSON object {\"body\": \"...\"}: "+err.Error(), http.StatusBadRequest)
			return note{}, false
		}
	} else {
		in.Body = r.FormValue("body")
	}
	body := strings.TrimSpace(in.Body)
	if body == "" || utf8.RuneCountInString(body) > maxNote {
		http.Error(w, fmt.Sprintf("a note's body must have 1 to %d characters", maxNote), http.StatusBadRequest)
		return note{}, false
	}
	notes, err := web.queryNotes(r.Context(), insertNote, body)
	if err == nil && len(notes) != 1 {
		err = errors.New("the insert returned no row")
	}
	if err != nil {
		web.fail(w, r, err)
		return note{}, false
	}
	return notes[0], true
}

// section is one list of a static tenant's page.
type section struct {
	Heading string
	Items   []sectionItem
}

type sectionItem struct{ Text, Link string }

var listingTemplate = template.Must(template.New("listing").Parse(`<!doctype html>
<meta charset="utf-8">
<title>{{.Tenant.Schema}}</title>
<h1>Static tenant {{.Tenant.Schema}}</h1>
<p>Matched by host <code>{{.Tenant.Domain}}</code>; its rows live in schema <code>{{.Tenant.Schema}}</code>.</p>
{{- range .Sections}}
<h2>{{.Heading}}</h2>
<ul>
{{- range .Items}}
<li>{{if .Link}}<a href="{{.Link}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}</li>
{{- end}}
</ul>
{{- end}}
`))

// listing returns a static tenant's page: one section per (heading, query) pair of hq. A query
// returns one to three text columns: an item, then the host and folder of a link on the demo's
// port (an empty host for none).
func (web *demoWeb) listing(hq ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			web.notFound(w, r)
			return
		}
		var sections []section
		for i := 0; i+1 < len(hq); i += 2 {
			items, err := web.items(r.Context(), hq[i+1])
			if err != nil {
				web.fail(w, r, err)
				return
			}
			sections = append(sections, section{Heading: hq[i], Items: items})
		}
		t, _ := httpx.TenantFrom(r.Context())
		web.html(w, r, listingTemplate, map[string]any{"Tenant": t, "Sections": sections})
	})
}

// items runs a listing's query.
func (web *demoWeb) items(ctx context.Context, query string) ([]sectionItem, error) {
	return queryAll(ctx, web.db, query, func(rows *sql.Rows, it *sectionItem) error {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		var host, folder string
		if err := rows.Scan([]any{&it.Text, &host, &folder}[:len(cols)]...); err != nil {
			return err
		}
		if host != "" {
			it.Link = demoURL(host, folder, web.port)
		}
		return nil
	})
}

// notFound answers a request that routes to no tenant, with the demo's tenants.
func (web *demoWeb) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "404: no tenant at %s%s. The demo's tenants:\n", r.Host, r.URL.Path)
	for _, l := range web.links {
		fmt.Fprintf(w, "  %-8s %s\n", l.Tenant, l.URL)
	}
}

// routeError answers a request that could not be routed (a malformed host, a database error), and
// logs err.
func (web *demoWeb) routeError(w http.ResponseWriter, r *http.Request, status int, err error) {
	web.log.Warn("request failed", "host", r.Host, "path", r.URL.Path, "status", status, "err", err)
	http.Error(w, http.StatusText(status), status)
}

// fail answers 500 and logs err.
func (web *demoWeb) fail(w http.ResponseWriter, r *http.Request, err error) {
	web.routeError(w, r, http.StatusInternalServerError, err)
}

// html renders t with data.
func (web *demoWeb) html(w http.ResponseWriter, r *http.Request, t *template.Template, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		web.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, b.String())
}

// writeJSONStatus answers status and v as JSON.
func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = writeJSON(w, v)
}
