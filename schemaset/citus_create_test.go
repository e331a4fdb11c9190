package schemaset_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/schemaset"
)

// TestCitusConcurrentCreations creates 20 tenants at once on a Citus coordinator, by clone and
// from the apps, with a lock timeout far shorter than the creations take together: Citus lets one
// distribution at a time hold the reference tables that the tenants' foreign keys point to, so
// the creations queue, and each must wait its turn and succeed, never fail with a lock timeout.
// Its Go code is concurrent: it runs under the race detector too.
func TestCitusConcurrentCreations(t *testing.T) {
	const tenants = 20
	ctx := context.Background()
	db := citusDB(t)
	db.SetMaxOpenConns(tenants + 2)
	opts := schemaset.Options{LockTimeout: time.Second}
	mustApply(t, schemaset.New(sampleSet(t, nil), db, opts), schemaset.ApplyOptions{})
	for _, how := range []struct {
		name string
		e    *schemaset.Engine
	}{
		{"clone", schemaset.New(sampleSet(t, nil), db, opts)},
		{"apps", schemaset.New(noRefSet(t), db, opts)},
	} {
		t.Run(how.name, func(t *testing.T) {
			var g errgroup.Group
			var want []string
			for i := range tenants {
				name := fmt.Sprintf("%s%02d", how.name, i)
				want = append(want, name)
				g.Go(func() error { return how.e.CreateTenant(ctx, name) })
			}
			if err := g.Wait(); err != nil {
				t.Fatalf("concurrent creation: %v", err)
			}
			got := distributed(t, db)
			for _, name := range want {
				if !slices.Contains(got, name) {
					t.Errorf("tenant %s is not a distributed schema (distributed: %v)", name, got)
				}
			}
		})
	}
}
