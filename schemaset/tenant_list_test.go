package schemaset_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/schemaset"
)

// TestListTenants: every tenant with its domains (primary first), and with Stats its table
// count, estimated rows, size on disk and last apply, as the catalog has them after VACUUM.
func TestListTenants(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	e := schemaset.New(sampleSet(t, nil), db, schemaset.Options{})
	mustApply(t, e, schemaset.ApplyOptions{})
	before := time.Now().Add(-time.Minute)
	if err := e.CreateTenant(ctx, "globex", schemaset.Domain{Domain: "shared.test", Folder: "globex"}, schemaset.Domain{Domain: "globex.test", Primary: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO globex.notes (body) SELECT repeat('x', 200) FROM generate_series(1, 5000)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM ANALYZE globex.notes`); err != nil {
		t.Fatal(err)
	}

	plain, err := e.ListTenants(ctx, schemaset.TenantListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 2 || plain[0].Name != "acme" || plain[1].Name != "globex" || plain[0].Stats != nil ||
		len(plain[0].Domains) != 0 || plain[0].Domains == nil || plain[1].CreatedAt.Before(before) {
		t.Fatalf("ListTenants = %+v", plain)
	}
	wantDomains := []schemaset.Domain{{Domain: "globex.test", Primary: true}, {Domain: "shared.test", Folder: "globex"}}
	if !slices.Equal(plain[1].Domains, wantDomains) {
		t.Errorf("globex's domains = %+v, want %+v", plain[1].Domains, wantDomains)
	}

	full, err := e.ListTenants(ctx, schemaset.TenantListOptions{Stats: true})
	if err != nil {
		t.Fatal(err)
	}
	var tables int
	var size int64
	if err := db.QueryRow(`SELECT count(*) FILTER (WHERE c.relkind = 'r'),
		sum(pg_relation_size(c.oid) + coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0)) FILTER (WHERE c.relkind <> 'S')
		FROM pg_class c WHERE c.relnamespace = 'globex'::regnamespace`).Scan(&tables, &size); err != nil {
		t.Fatal(err)
	}
	g := full[1].Stats
	switch {
	case g == nil:
		t.Fatal("no stats with Stats")
	case g.Tables != tables || tables < 3:
		t.Errorf("globex: %d tables, want %d", g.Tables, tables)
	case g.EstimatedRows < 4500 || g.EstimatedRows > 5500:
		t.Errorf("globex: %d estimated rows, want about 5000", g.EstimatedRows)
	case g.SizeBytes < size || g.SizeBytes > size+64*1024: // + sequences and never-vacuumed toast
		t.Errorf("globex: %d bytes, want about %d (the sizes of its relations)", g.SizeBytes, size)
	case g.AppliedAt == nil || g.AppliedAt.Before(before):
		t.Errorf("globex: applied at %v", g.AppliedAt)
	}
	if a := full[0].Stats; a == nil || a.Tables != tables || a.EstimatedRows != 0 {
		t.Errorf("acme's stats = %+v", a)
	}
	if !slices.Equal(full[1].Domains, wantDomains) {
		t.Errorf("with stats, globex's domains = %+v", full[1].Domains)
	}
}
