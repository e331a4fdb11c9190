package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// tenantParts says which parts of a dynamic tenant exist: its schema, its row, its domain rows
// and its recorded state. A tenant is whole when all four do, and absent when none does.
type tenantParts struct {
	schema, row, domains, state bool
}

func (p tenantParts) whole() bool  { return p.schema && p.row && p.domains && p.state }
func (p tenantParts) absent() bool { return !p.schema && !p.row && !p.domains && !p.state }

func partsOf(t testing.TB, db *sql.DB, name string) tenantParts {
	t.Helper()
	var p tenantParts
	err := db.QueryRow(`SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1),
		EXISTS (SELECT FROM public.pgschemas_tenant WHERE schema_name = $1),
		EXISTS (SELECT FROM public.pgschemas_domain WHERE tenant = $1),
		EXISTS (SELECT FROM public.pgschemas_schema_state WHERE schema_name = $1)`, name).
		Scan(&p.schema, &p.row, &p.domains, &p.state)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// createFaultApp is the application_name of the creations' sessions.
const createFaultApp = "pgschemas_create_fault"

// settle waits until no session of createFaultApp is in a transaction or running a statement.
func settle(t testing.TB, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var busy int
		err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1 AND state <> 'idle'`, createFaultApp).Scan(&busy)
		if err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the creation still busy after 30s", busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// isStatement reports whether a client message runs a statement: a simple Query, or an Execute
// of the extended protocol (a Parse alone runs nothing, and pgx parses a cached statement once).
func isStatement(typ byte) bool { return typ == 'Q' || typ == 'E' }

// TestCreateTenantCancelledAtEachStatement cancels the context of CreateTenant at each statement
// it sends, one attempt per statement, by the clone path (a reference is configured and current)
// and by the apps path (no reference). The statement is either withheld from the server (the
// connection then fails, as when the cancel wins the race) or sent before the cancel. After each
// attempt the tenant must be whole or absent: never a schema without a row or the reverse, and no
// domain or state rows without both; whole when the attempt succeeded, absent when it failed (a
// cancel that comes with the COMMIT lets it finish). Then the same create, retried, must leave it
// whole: it succeeds, or reports ErrTenantExists after an attempt that succeeded.
func TestCreateTenantCancelledAtEachStatement(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a tenant once per statement of a creation")
	}
	for _, tc := range []struct {
		name  string
		edits map[string]string
	}{
		{"clone", nil},
		{"apps", map[string]string{"pgschemas.hcl": strings.Replace(string(mustRead(t, "pgschemas.hcl")),
			`clone_reference = "sample"`, "", 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) { testCreateCancelled(t, tc.edits) })
	}
}

func testCreateCancelled(t *testing.T, edits map[string]string) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	proxy := pgtest.StartProxy(t, pgtest.TargetAddr(t, dsn))
	// The creations' sessions carry a name, so that the test can wait for the server to be done
	// with each: a COMMIT sent before the cancel still commits after the client has gone.
	db, err := sql.Open("pgx", pgtest.WithParams(proxy.DSN(dsn), "application_name", createFaultApp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := schemaset.New(sampleSet(t, edits), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{}) // a worker and the apply lock: two connections
	// One connection: the statements of a creation then come in one order, attempt after attempt.
	db.SetMaxOpenConns(1)
	domains := func(name string) []schemaset.Domain {
		// A host has no '_' (a DNS label holds letters, digits and inner hyphens); a folder may.
		return []schemaset.Domain{{Domain: strings.ReplaceAll(name, "_", "-") + ".example.test"}, {Domain: "shop.example.test", Folder: name}}
	}

	// A first creation warms the engine's caches (the desired state is materialized once); a
	// second counts the statements of a creation, and shows the columns a whole tenant has.
	if err := e.CreateTenant(ctx, "warm", domains("warm")...); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	proxy.SetIntercept(func(typ byte, _ string) bool {
		if isStatement(typ) {
			n.Add(1)
		}
		return true
	})
	if err := e.CreateTenant(ctx, "probe", domains("probe")...); err != nil {
		t.Fatal(err)
	}
	proxy.SetIntercept(nil)
	steps := int(n.Load())
	want := columns(t, direct, "probe")
	if steps < 5 || len(want) == 0 {
		t.Fatalf("a creation sent %d statements and made columns %v", steps, want)
	}
	t.Logf("a creation sends %d statements", steps)

	for k := 1; k <= steps; k++ {
		for _, withhold := range []bool{true, false} {
			name := fmt.Sprintf("c%03d_%s", k, map[bool]string{true: "w", false: "s"}[withhold])
			actx, cancel := context.WithCancel(ctx)
			var seen atomic.Int32
			var stmt atomic.Value
			proxy.SetIntercept(func(typ byte, sql string) bool {
				if sql != "" {
					stmt.Store(sql) // the Parse or Query of the statement an Execute runs
				}
				if !isStatement(typ) || seen.Add(1) != int32(k) {
					return true
				}
				cancel()
				return !withhold
			})
			err := e.CreateTenant(actx, name, domains(name)...)
			proxy.SetIntercept(nil)
			cancel()
			last, _ := stmt.Load().(string)
			where := fmt.Sprintf("cancelled at statement %d of %d (last parsed: %.60q), withheld %v", k, steps, last, withhold)
			settle(t, direct)
			p := partsOf(t, direct, name)
			if !p.whole() && !p.absent() {
				t.Fatalf("%s: a half-made tenant: %+v (err %v)", where, p, err)
			}
			if err == nil && !p.whole() {
				t.Fatalf("%s: no error, but the tenant is %+v", where, p)
			}
			// The COMMIT is not cancelled with the statements: an error means nothing was made.
			if err != nil && !p.absent() {
				t.Errorf("%s: the creation failed (%v), but the tenant was made", where, err)
			}
			if withhold && err == nil {
				t.Errorf("%s: the statement never reached the server, and the creation reported success", where)
			}
			retry := e.CreateTenant(ctx, name, domains(name)...)
			switch {
			case p.whole() && !errors.Is(retry, schemaset.ErrTenantExists):
				t.Errorf("%s: the attempt made the tenant (its error: %v); the retry says %v, want ErrTenantExists", where, err, retry)
			case p.absent() && retry != nil:
				t.Errorf("%s: the retry of a creation that left nothing failed: %v", where, retry)
			}
			if p := partsOf(t, direct, name); !p.whole() {
				t.Errorf("%s: after the retry the tenant is %+v", where, p)
			}
			if got := columns(t, direct, name); !slices.Equal(got, want) {
				t.Errorf("%s: after the retry the tenant has columns %v, want %v", where, got, want)
			}
		}
	}
}
