package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgcluster"
)

// Cluster is a throwaway server (internal/pgcluster, which the CLI's demo uses without pulling in
// pgtest's testcontainers).
type Cluster = pgcluster.Cluster

// NewCluster starts a Cluster for t and removes it when t ends. Without initdb and pg_ctl, t
// skips, or fails under CI=true.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := pgcluster.StartCluster(context.Background(), pgcluster.ClusterOptions{})
	if err != nil {
		if _, ferr := pgcluster.FindBin(os.Getenv("PATH"), pgcluster.BinGlobs); ferr != nil && os.Getenv("CI") != "true" {
			t.Skipf("pgtest: a throwaway server needs PostgreSQL's server programs: %v", ferr)
		}
		t.Fatalf("pgtest: start a throwaway server: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Remove(context.Background()); err != nil {
			t.Errorf("pgtest: remove the throwaway server: %v", err)
		}
	})
	return c
}
