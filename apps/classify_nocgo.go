//go:build !cgo

package apps

import "errors"

// errNoParser refuses SQL in a build without cgo: the SQL of apps is classified with PostgreSQL's
// own parser (pg_query_go), which is C. Packages that only read the config (resolve, httpx) build
// without cgo; the engine and the CLI need it.
var errNoParser = errors.New("this program was built without cgo (CGO_ENABLED=0), so it has no SQL parser to check app SQL with; build it with cgo and a C compiler")

// statements refuses any SQL: without the parser, what it would do cannot be told.
func statements(app, file, text string, _ bool, _ ...string) ([]stmt, error) {
	return nil, invalid(app, file, 0, "%w", errNoParser)
}
