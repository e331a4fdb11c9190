package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/schemaset"
)

// TestKilledApplyResumes kills the binary (SIGKILL) in the middle of an apply over 200 tenants. Every
// tenant must then be before or after the change, never between, and a rerun must finish the rest
// without redoing the finished ones.
func TestKilledApplyResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 200 tenants")
	}
	ctx := context.Background()
	f := newFixture(t)
	f.ok("apply")
	set, err := schemaset.LoadFile(filepath.Join(f.dir, "pgschemas.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	e := schemaset.New(set, f.db, schemaset.Options{})
	var names []string
	for i := range 200 {
		name := fmt.Sprintf("k%03d", i)
		if err := e.CreateTenant(ctx, name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	f.edit("apps/tenant/notes.sql", "body       text NOT NULL,", "body       text NOT NULL,\n  pinned     boolean NOT NULL DEFAULT false,")
	changed, err := schemaset.LoadFile(filepath.Join(f.dir, "pgschemas.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	fp := changed.Fingerprint(schemaset.Target{Schema: "k000", Kind: schemaset.KindDynamic})
	done := func() int {
		return f.count(`SELECT count(*) FROM pgschemas_schema_state WHERE kind = 'dynamic' AND fingerprint = $1`, fp)
	}

	cmd := exec.Command(binary(t), "--config", filepath.Join(f.dir, "pgschemas.hcl"), "--url", f.url, "apply", "--parallel", "1")
	// Its sessions carry a name of their own, so that the test can wait for the server to finish
	// with them after the kill: a COMMIT already sent still commits.
	cmd.Env = append(os.Environ(), "PGAPPNAME=pgschemas_killed_apply")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	most := 0 // the most sessions the run had at once: --parallel 1 allows one worker and the lock
	for done() < 5 && time.Now().Before(deadline) {
		most = max(most, f.count(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgschemas_killed_apply'`))
		time.Sleep(5 * time.Millisecond)
	}
	if most > 2 {
		t.Errorf("the apply had %d sessions at once with --parallel 1; want at most 2", most)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for f.count(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgschemas_killed_apply'`) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	before := done()
	if before == 0 || before == len(names) {
		t.Fatalf("%d of %d tenants done when killed; want some but not all", before, len(names))
	}
	for _, name := range names {
		has := slices.Contains(f.columns(name, "notes"), "pinned")
		recorded := f.count(`SELECT count(*) FROM pgschemas_schema_state WHERE schema_name = $1 AND fingerprint = $2`, name, fp) == 1
		if has != recorded {
			t.Errorf("%s: column %v but record %v: a tenant is between", name, has, recorded)
		}
	}

	r := f.ok("apply")
	// The tenants not done yet are applied, and nothing else: the reference went before them.
	wantContains(t, "rerun", r.stdout, fmt.Sprintf("apply: %d applied, ", len(names)-before))
	if got := done(); got != len(names) {
		t.Errorf("after the rerun %d of %d tenants are current", got, len(names))
	}
}
