package schemaset_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pgschemas/pgschemas/schemaset"
)

// eventLog collects the events of an engine.
type eventLog struct {
	mu     sync.Mutex
	events []schemaset.Event
}

func (l *eventLog) add(ev schemaset.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// take returns the events so far and forgets them.
func (l *eventLog) take() []schemaset.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// badDomains are the hosts and folders that the engine once stored (issue 16), with the rule each
// refusal must name.
var badDomains = []struct {
	d    schemaset.Domain
	rule string
}{
	{schemaset.Domain{Domain: "a..b"}, "empty label"},
	{schemaset.Domain{Domain: ".host"}, "starts with a dot"},
	{schemaset.Domain{Domain: "*.example.test"}, "wildcard '*'"},
	{schemaset.Domain{Domain: strings.Repeat("a", 64) + ".test"}, "64 bytes long; a label has 1 to 63"},
	{schemaset.Domain{Domain: strings.Repeat("a", 300)}, "300 bytes long, the limit is 253"},
	{schemaset.Domain{Domain: `host\test`}, `character '\\' at byte 4`},
	{schemaset.Domain{Domain: "host;test"}, "character ';' at byte 4"},
	{schemaset.Domain{Domain: "host.test\n"}, "control character U+000A at byte 9"},
	{schemaset.Domain{Domain: "ok.test", Folder: "."}, "relative path segment"},
	{schemaset.Domain{Domain: "ok.test", Folder: ".."}, "relative path segment"},
	{schemaset.Domain{Domain: "ok.test", Folder: "f o"}, "character ' ' at byte 1"},
	{schemaset.Domain{Domain: "ok.test", Folder: "f?x"}, "character '?' at byte 1"},
	{schemaset.Domain{Domain: "ok.test", Folder: "f#x"}, "character '#' at byte 1"},
	{schemaset.Domain{Domain: "ok.test", Folder: "f\x7f"}, "control character U+007F at byte 1"},
}

// TestDomainValidationAtEveryEntry: each bad host or folder is refused by AddDomain, CreateTenant
// and ParseDomain, with ErrInvalidDomain and the rule it broke, and nothing is stored.
func TestDomainValidationAtEveryEntry(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for i, c := range badDomains {
		_, err := e.AddDomain(ctx, "acme", c.d)
		if !errors.Is(err, schemaset.ErrInvalidDomain) || !strings.Contains(err.Error(), c.rule) {
			t.Errorf("AddDomain(%q, %q) = %v; want ErrInvalidDomain saying %q", c.d.Domain, c.d.Folder, err, c.rule)
		}
		err = e.CreateTenant(ctx, "t"+string(rune('a'+i)), c.d)
		if !errors.Is(err, schemaset.ErrInvalidDomain) || !strings.Contains(err.Error(), c.rule) {
			t.Errorf("CreateTenant with %q, %q = %v; want ErrInvalidDomain saying %q", c.d.Domain, c.d.Folder, err, c.rule)
		}
		_, err = schemaset.ParseDomain(c.d.String())
		if !errors.Is(err, schemaset.ErrInvalidDomain) {
			t.Errorf("ParseDomain(%q) = %v; want ErrInvalidDomain", c.d.String(), err)
		}
	}
	if n := strs(t, db, `SELECT domain || '/' || folder FROM pgschemas_domain`); len(n) > 0 {
		t.Errorf("refused domains were stored: %q", n)
	}
	if n := strs(t, db, `SELECT schema_name FROM pgschemas_tenant WHERE schema_name <> 'acme'`); len(n) > 0 {
		t.Errorf("creations with refused domains left tenants: %q", n)
	}
}

// TestDomainOperations: add, list, set-primary and remove, with their rules: the stored form of an
// internationalized name, one primary per tenant, hosts taken by another tenant or a static tenant
// refused by name, and one event per change.
func TestDomainOperations(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	var log eventLog
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{OnEvent: log.add})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "acme", schemaset.Domain{Domain: "ACME.example.test."}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTenant(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	log.take()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustAdd := func(_ schemaset.TenantDomain, err error) {
		t.Helper()
		must(err)
	}
	mustAdd(e.AddDomain(ctx, "acme", schemaset.Domain{Domain: "Ünicode.test"}))
	mustAdd(e.AddDomain(ctx, "acme", schemaset.Domain{Domain: "shared.test", Folder: "acme", RedirectToPrimary: true}))
	mustAdd(e.AddDomain(ctx, "globex", schemaset.Domain{Domain: "shared.test", Folder: "globex"}))
	mustAdd(e.AddDomain(ctx, "globex", schemaset.Domain{Domain: "globex.test", Primary: true}))

	got, err := e.Domains(ctx, "")
	must(err)
	want := []schemaset.TenantDomain{
		{Tenant: "acme", Domain: schemaset.Domain{Domain: "acme.example.test", Primary: true}},
		{Tenant: "acme", Domain: schemaset.Domain{Domain: "shared.test", Folder: "acme", RedirectToPrimary: true}},
		{Tenant: "acme", Domain: schemaset.Domain{Domain: "xn--nicode-2ya.test"}},
		{Tenant: "globex", Domain: schemaset.Domain{Domain: "globex.test", Primary: true}},
		{Tenant: "globex", Domain: schemaset.Domain{Domain: "shared.test", Folder: "globex"}},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Domains = %+v\nwant %+v", got, want)
	}
	if only, err := e.Domains(ctx, "globex"); err != nil || !slices.Equal(only, want[3:]) {
		t.Errorf("Domains(globex) = %+v, %v", only, err)
	}
	if _, err := e.Domains(ctx, "nobody"); !errors.Is(err, schemaset.ErrNotTenant) {
		t.Errorf("Domains(nobody) = %v, want ErrNotTenant", err)
	}

	for _, c := range []struct {
		tenant string
		d      schemaset.Domain
		is     error
		says   string
	}{
		{"globex", schemaset.Domain{Domain: "ünicode.test"}, schemaset.ErrDomainTaken, `already routes to tenant "acme"`},
		{"globex", schemaset.Domain{Domain: "XN--NICODE-2YA.test."}, schemaset.ErrDomainTaken, `already routes to tenant "acme"`},
		{"acme", schemaset.Domain{Domain: "shared.test", Folder: "globex"}, schemaset.ErrDomainTaken, `already routes to tenant "globex"`},
		{"acme", schemaset.Domain{Domain: "blog.example.test", Folder: "x"}, schemaset.ErrDomainTaken, `static tenant "blog"`},
		{"nobody", schemaset.Domain{Domain: "free.test"}, schemaset.ErrNotTenant, `"nobody"`},
		{"www", schemaset.Domain{Domain: "free.test"}, schemaset.ErrNotTenant, `static`},
		{"sample", schemaset.Domain{Domain: "free.test"}, schemaset.ErrNotTenant, `reference`},
		{"acme", schemaset.Domain{Domain: "free.test", Primary: true, RedirectToPrimary: true}, schemaset.ErrInvalidDomain, "cannot be the primary domain and redirect"},
	} {
		_, err := e.AddDomain(ctx, c.tenant, c.d)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("AddDomain(%s, %s) = %v; want %v saying %s", c.tenant, c.d, err, c.is, c.says)
		}
	}
	// CreateTenant names the owner too.
	if err := e.CreateTenant(ctx, "initech", schemaset.Domain{Domain: "globex.test"}); !errors.Is(err, schemaset.ErrDomainTaken) || !strings.Contains(err.Error(), `"globex"`) {
		t.Errorf("CreateTenant on globex's host = %v; want ErrDomainTaken naming globex", err)
	}

	// set-primary moves the primary and stops the new primary's redirect.
	row, err := e.SetPrimaryDomain(ctx, schemaset.Domain{Domain: "shared.test", Folder: "acme"})
	must(err)
	if row.Tenant != "acme" || !row.Primary || row.RedirectToPrimary {
		t.Errorf("SetPrimaryDomain = %+v", row)
	}
	if got := strs(t, db, `SELECT domain || '/' || folder || ' ' || redirect_to_primary FROM pgschemas_domain WHERE tenant = 'acme' AND is_primary`); !slices.Equal(got, []string{"shared.test/acme false"}) {
		t.Errorf("acme's primary = %q", got)
	}
	// A domain added with Primary takes the primary over.
	mustAdd(e.AddDomain(ctx, "acme", schemaset.Domain{Domain: "acme.test", Primary: true}))
	if got := strs(t, db, `SELECT domain FROM pgschemas_domain WHERE tenant = 'acme' AND is_primary`); !slices.Equal(got, []string{"acme.test"}) {
		t.Errorf("acme's primary after adding one = %q", got)
	}
	if _, err := e.SetPrimaryDomain(ctx, schemaset.Domain{Domain: "nowhere.test"}); !errors.Is(err, schemaset.ErrNoDomain) {
		t.Errorf("SetPrimaryDomain(nowhere) = %v, want ErrNoDomain", err)
	}

	removed, err := e.RemoveDomain(ctx, schemaset.Domain{Domain: "ÜNICODE.test"})
	must(err)
	if removed.Tenant != "acme" || removed.Domain.Domain != "xn--nicode-2ya.test" {
		t.Errorf("RemoveDomain = %+v", removed)
	}
	if _, err := e.RemoveDomain(ctx, schemaset.Domain{Domain: "ünicode.test"}); !errors.Is(err, schemaset.ErrNoDomain) {
		t.Errorf("RemoveDomain again = %v, want ErrNoDomain", err)
	}
	// The tenant of a removed primary has none; the next domain added becomes primary.
	if _, err := e.RemoveDomain(ctx, schemaset.Domain{Domain: "globex.test"}); err != nil {
		t.Fatal(err)
	}
	mustAdd(e.AddDomain(ctx, "globex", schemaset.Domain{Domain: "globex2.test"}))
	if got := strs(t, db, `SELECT domain FROM pgschemas_domain WHERE tenant = 'globex' AND is_primary`); !slices.Equal(got, []string{"globex2.test"}) {
		t.Errorf("globex's primary = %q, want the domain added after the primary was removed", got)
	}

	var changed, failed []string
	for _, ev := range log.take() {
		switch ev.Kind {
		case schemaset.EventDomainChanged:
			changed = append(changed, ev.Op+" "+ev.Schema+" "+ev.Domain)
		case schemaset.EventFailed:
			failed = append(failed, ev.Op)
			if ev.Err == nil {
				t.Errorf("failed event without an error: %+v", ev)
			}
		}
		if ev.Duration <= 0 || ev.Time.IsZero() {
			t.Errorf("event without a duration or time: %+v", ev)
		}
	}
	wantChanged := []string{
		"add_domain acme xn--nicode-2ya.test", "add_domain acme shared.test/acme", "add_domain globex shared.test/globex",
		"add_domain globex globex.test", "set_primary_domain acme shared.test/acme", "add_domain acme acme.test",
		"remove_domain acme xn--nicode-2ya.test", "remove_domain globex globex.test", "add_domain globex globex2.test",
	}
	if !slices.Equal(changed, wantChanged) {
		t.Errorf("domain events:\n%q\nwant\n%q", changed, wantChanged)
	}
	if len(failed) != 11 { // 8 AddDomain, 1 CreateTenant, 1 SetPrimaryDomain, 1 RemoveDomain
		t.Errorf("failed events = %q", failed)
	}

	// Domains added at once to a tenant without one: exactly one becomes primary.
	if err := e.CreateTenant(ctx, "initech"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.AddDomain(ctx, "initech", schemaset.Domain{Domain: "initech.test", Folder: string(rune('a' + i))})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := strs(t, db, `SELECT folder FROM pgschemas_domain WHERE tenant = 'initech' AND is_primary`); len(got) != 1 {
		t.Errorf("initech's primaries after concurrent adds = %q, want one", got)
	}
}

// TestTenantNamesIgnoringCase: a dynamic tenant's name may not differ from another's, or from a
// schema's, only in case; and a bad character is quoted whole.
func TestTenantNamesIgnoringCase(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	if err := e.CreateTenant(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ALPHA", "Alpha"} {
		err := e.CreateTenant(ctx, name)
		if !errors.Is(err, schemaset.ErrNameClash) || !strings.Contains(err.Error(), `tenant "alpha"`) {
			t.Errorf("CreateTenant(%s) = %v; want ErrNameClash naming alpha", name, err)
		}
	}
	if err := e.Clone(ctx, "alpha", "ALPHA", true); !errors.Is(err, schemaset.ErrNameClash) {
		t.Errorf("Clone(alpha, ALPHA, tenant) = %v; want ErrNameClash", err)
	}
	if _, err := db.Exec(`CREATE SCHEMA "Stray"`); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTenant(ctx, "stray"); !errors.Is(err, schemaset.ErrNameClash) || !strings.Contains(err.Error(), `schema "Stray"`) {
		t.Errorf("CreateTenant(stray) beside schema Stray = %v; want ErrNameClash naming it", err)
	}
	if got := strs(t, db, `SELECT schema_name FROM pgschemas_tenant`); !slices.Equal(got, []string{"alpha"}) {
		t.Errorf("tenants = %q, want only alpha", got)
	}
	err := e.CreateTenant(ctx, "über")
	if err == nil || !strings.Contains(err.Error(), `character 'ü' at byte 0`) {
		t.Errorf("CreateTenant(über) = %v; want it to quote 'ü'", err)
	}
	// Concurrent creations of one name in two cases: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"beta", "BETA"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.CreateTenant(ctx, name)
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("concurrent beta and BETA: %v, %v; want one refused", errs[0], errs[1])
	}
}
