package schemaset_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/driver"
	"github.com/pgschemas/pgschemas/schemaset"
)

// TestRenameTenant: a rename moves the schema with its rows, the tenant row, the domains (flags
// kept), the records and the steps, in one transaction; it is refused for what is not a dynamic
// tenant, for names taken (ignoring case), and, changing nothing, when a public foreign key
// without ON UPDATE CASCADE references the tenant.
func TestRenameTenant(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	var log eventLog
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{OnEvent: log.add})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme", schemaset.Domain{Domain: "acme.test"},
		schemaset.Domain{Domain: "shared.test", Folder: "acme", RedirectToPrimary: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTenant(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO acme.notes (body) VALUES ('one'), ('two');
		INSERT INTO public.pgschemas_step (schema_name, app, step) VALUES ('acme', 'tenant', '0001_x');
		INSERT INTO public.plans (name, price_cents) VALUES ('pro', 100);
		INSERT INTO public.subscriptions (tenant, plan_id) VALUES ('acme', 1);
		CREATE TABLE public.billing (tenant text REFERENCES pgschemas_tenant ON UPDATE CASCADE, amount int);
		INSERT INTO public.billing VALUES ('acme', 5)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		old, new string
		is       error
	}{
		{"www", "www2", schemaset.ErrNotTenant},
		{"sample", "sample2", schemaset.ErrNotTenant},
		{"public", "public2", schemaset.ErrNotTenant},
		{"nobody", "nobody2", schemaset.ErrNotTenant},
		{"acme", "WWW", schemaset.ErrNameClash},
		{"acme", "Sample", schemaset.ErrNameClash},
		{"acme", "GLOBEX", schemaset.ErrNameClash},
		{"acme", "globex", schemaset.ErrTenantExists},
		{"acme", "bad-name", driver.ErrInvalidSchemaName},
		{"acme", "acme", schemaset.ErrTenantExists},
	} {
		if err := e.RenameTenant(ctx, c.old, c.new); !errors.Is(err, c.is) {
			t.Errorf("RenameTenant(%s, %s) = %v, want %v", c.old, c.new, err, c.is)
		}
	}
	// subscriptions references the tenant without ON UPDATE CASCADE: refused, nothing changed.
	err := e.RenameTenant(ctx, "acme", "acme2")
	if err == nil || !strings.Contains(err.Error(), "without ON UPDATE CASCADE") || !strings.Contains(err.Error(), "23503") {
		t.Fatalf("RenameTenant with a subscription = %v; want a refusal naming the foreign key rule", err)
	}
	if !exists(t, db, "acme") || exists(t, db, "acme2") || len(strs(t, db, `SELECT domain FROM pgschemas_domain WHERE tenant = 'acme'`)) != 2 {
		t.Fatal("a refused rename changed something")
	}
	if _, err := db.Exec(`DELETE FROM public.subscriptions`); err != nil {
		t.Fatal(err)
	}
	log.take()
	if err := e.RenameTenant(ctx, "acme", "acme2"); err != nil {
		t.Fatal(err)
	}
	if exists(t, db, "acme") || !exists(t, db, "acme2") {
		t.Fatal("schema acme was not renamed to acme2")
	}
	for q, want := range map[string][]string{
		`SELECT body FROM acme2.notes ORDER BY id`:            {"one", "two"},
		`SELECT schema_name FROM pgschemas_tenant ORDER BY 1`: {"acme2", "globex"},
		`SELECT tenant || ' ' || domain || '/' || folder || ' ' || is_primary || ' ' || redirect_to_primary
			FROM pgschemas_domain ORDER BY domain`: {"acme2 acme.test/ true false", "acme2 shared.test/acme false true"},
		`SELECT schema_name FROM pgschemas_schema_state WHERE schema_name LIKE 'acme%'`:        {"acme2"},
		`SELECT schema_name || ' ' || step FROM pgschemas_step WHERE schema_name LIKE 'acme%'`: {"acme2 0001_x"},
		`SELECT tenant FROM public.billing`:                                                    {"acme2"},
	} {
		if got := strs(t, db, q); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
	evs := log.take()
	if len(evs) != 1 || evs[0].Kind != schemaset.EventRenamed || evs[0].OldSchema != "acme" || evs[0].Schema != "acme2" || evs[0].Duration <= 0 {
		t.Errorf("events = %+v, want one renamed acme -> acme2", evs)
	}
	// The renamed tenant is up to date: an apply has nothing to do.
	rep := mustApply(t, e, schemaset.ApplyOptions{})
	if o := outcomes(rep); o["acme2"] != schemaset.OutcomeUpToDate {
		t.Errorf("apply after the rename: %v", o)
	}
	// And it can be renamed back, and dropped.
	if err := e.RenameTenant(ctx, "acme2", "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE public.billing`); err != nil {
		t.Fatal(err)
	}
	if err := e.DropTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
}

// TestRenameTenantStrict: in strict mode the tenant's role follows the rename: the new name's role
// has the schema's rights and is granted to the login role, and the old role is gone.
func TestRenameTenantStrict(t *testing.T) {
	ctx := context.Background()
	_, db, login := strictDB(t)
	static, a, b := uniq("st_"), uniq("ra_"), uniq("rb_")
	e := schemaset.New(sampleSet(t, map[string]string{"pgschemas.hcl": strictConfig(static, login)}), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := e.RenameTenant(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if roleExists(t, db, a) || !roleExists(t, db, b) {
		t.Fatalf("roles after the rename: %s exists %v, %s exists %v; want only the new one",
			a, roleExists(t, db, a), b, roleExists(t, db, b))
	}
	var member, reads bool
	if err := db.QueryRow(`SELECT pg_has_role($1, $2, 'MEMBER'), has_table_privilege($2, $3, 'SELECT,INSERT')`,
		login, driver.TenantRole(b), b+".notes").Scan(&member, &reads); err != nil || !member || !reads {
		t.Errorf("the new role: login member %v, writes %s.notes %v, %v; want both", member, b, reads, err)
	}
}
