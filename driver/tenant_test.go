package driver_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pgschemas/pgschemas/driver"
)

// tenantJob is a job payload that carries its tenant.
type tenantJob struct {
	Tenant driver.Tenant `json:"tenant"`
	Note   string        `json:"note"`
}

func TestTenantRoundTripsThroughPayloads(t *testing.T) {
	for _, name := range []string{"acme", "T5Mixed", "_x1", strings.Repeat("x", driver.MaxSchemaNameLen), ""} {
		tenant, err := driver.ParseTenant(name)
		if err != nil || tenant.String() != name {
			t.Fatalf("ParseTenant(%q) = %q, %v", name, tenant, err)
		}
		payload, err := json.Marshal(tenantJob{Tenant: tenant, Note: "n"})
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if want := `{"tenant":"` + name + `","note":"n"}`; string(payload) != want {
			t.Errorf("%q: JSON %s, want %s", name, payload, want)
		}
		var job tenantJob
		if err := json.Unmarshal(payload, &job); err != nil || job.Tenant != tenant {
			t.Errorf("%q: JSON read back as %q (%v)", name, job.Tenant, err)
		}
		text, err := tenant.MarshalText()
		var back driver.Tenant
		if err != nil || back.UnmarshalText(text) != nil || back != tenant {
			t.Errorf("%q: text read back as %q (%v)", name, back, err)
		}
	}
}

func TestTenantRefusesInvalidNames(t *testing.T) {
	for _, name := range []string{"x; DROP SCHEMA acme", "public", "PUBLIC", "pg_catalog", "1abc", "a-b", `a"b`, "ä", strings.Repeat("x", 64)} {
		if _, err := driver.ParseTenant(name); !errors.Is(err, driver.ErrInvalidSchemaName) {
			t.Errorf("ParseTenant(%q): %v, want ErrInvalidSchemaName", name, err)
		}
		job := tenantJob{Tenant: "kept"}
		payload, _ := json.Marshal(map[string]string{"tenant": name})
		if err := json.Unmarshal(payload, &job); !errors.Is(err, driver.ErrInvalidSchemaName) || job.Tenant != "kept" {
			t.Errorf("JSON tenant %q: %v, tenant %q; want ErrInvalidSchemaName, and the tenant unchanged", name, err, job.Tenant)
		}
		if _, err := json.Marshal(tenantJob{Tenant: driver.Tenant(name)}); !errors.Is(err, driver.ErrInvalidSchemaName) {
			t.Errorf("JSON of the converted tenant %q: %v, want ErrInvalidSchemaName", name, err)
		}
	}
}

func TestTenantContext(t *testing.T) {
	acme := driver.WithSchema(context.Background(), "acme")
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		schema string // "" for none
	}{
		{"a tenant", driver.Tenant("globex").Context(acme), "globex"},
		{"the zero tenant hides the parent's schema", driver.Tenant("").Context(acme), ""},
		{"a schema carried to a context without one", driver.WithSchemaOf(context.Background(), acme), "acme"},
		{"a schema carried over another", driver.WithSchemaOf(in("globex"), acme), "acme"},
		{"no schema carried over one", driver.WithSchemaOf(acme, context.Background()), ""},
	} {
		got, ok := driver.SchemaFrom(tc.ctx)
		tenant, err := driver.TenantOf(tc.ctx)
		if got != tc.schema || ok != (tc.schema != "") || err != nil || tenant != driver.Tenant(tc.schema) {
			t.Errorf("%s: SchemaFrom %q, %t; TenantOf %q, %v; want %q", tc.name, got, ok, tenant, err, tc.schema)
		}
	}
	if _, err := driver.TenantOf(in("x;y")); !errors.Is(err, driver.ErrInvalidSchemaName) {
		t.Errorf("TenantOf an invalid name: %v, want ErrInvalidSchemaName", err)
	}

	t.Run("operations run in the carried schema", func(t *testing.T) {
		dsn := tenantDB(t, "a", "b")
		db := open(t, dsn)
		pool := openPool(t, dsn, false, nil)
		request, endRequest := context.WithCancel(in("a"))
		detached := driver.WithSchemaOf(context.Background(), request)
		endRequest()
		for _, tc := range []struct {
			ctx  context.Context
			want string
		}{
			{detached, "a"},
			{driver.Tenant("b").Context(context.Background()), "b"},
			{driver.Tenant("").Context(in("b")), "public"},
			{driver.WithSchemaOf(in("b"), context.Background()), "public"},
		} {
			if got := owner(t, db, tc.ctx); got != tc.want {
				t.Errorf("database/sql: read %s's rows, want %s's", got, tc.want)
			}
			if got := poolOwner(t, pool, tc.ctx); got != tc.want {
				t.Errorf("pgxpool: read %s's rows, want %s's", got, tc.want)
			}
		}
		invalid := driver.WithSchemaOf(context.Background(), in("x;y"))
		if _, err := db.ExecContext(invalid, "SELECT 1"); !errors.Is(err, driver.ErrInvalidSchemaName) {
			t.Errorf("an invalid name carried: %v, want ErrInvalidSchemaName", err)
		}
	})
}
