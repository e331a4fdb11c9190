// Package citustest gives a test a throwaway database of its own on a Citus cluster: the database
// on the coordinator and on every worker, with the citus extension in each, and the workers
// registered, as the cluster that PGSCHEMAS_CITUS_DSN names has them. The tests that need Citus
// skip without PGSCHEMAS_CITUS_DSN; .ci/run starts a cluster (../shared/citus/cluster.sh) and sets it.
package citustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

// EnvDSN names the environment variable with the coordinator's connection string.
const EnvDSN = "PGSCHEMAS_CITUS_DSN"

// DSN returns the coordinator's connection string, or skips the test when EnvDSN is unset.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skipf("citustest: set %s to a Citus coordinator (../shared/citus/cluster.sh start prints one) to run the Citus tests", EnvDSN)
	}
	return dsn
}

// node is one node of the cluster.
type node struct {
	host string
	port int
}

// NewDatabase creates a throwaway database on every node of the cluster, with the citus extension,
// registers the coordinator and the workers in it, and drops it on every node when the test ends.
// It returns the coordinator's connection string for the new database. Citus keeps its metadata
// per database, so the database is a cluster of its own: nothing of another test's tenants,
// public tables or rebalancing reaches it.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("citustest: %s: %v", EnvDSN, err)
	}
	coordinator := node{cfg.Host, int(cfg.Port)}
	var workers []node
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("citustest: connect to the coordinator: %v", err)
	}
	rows, err := conn.Query(ctx, `SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' ORDER BY nodeid`)
	if err == nil {
		for rows.Next() {
			var n node
			if err = rows.Scan(&n.host, &n.port); err != nil {
				break
			}
			workers = append(workers, n)
		}
		rows.Close()
		err = rows.Err()
	}
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("citustest: read the workers: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "pgschemas_citus_" + hex.EncodeToString(b[:])
	dsnOf := func(n node, db string) string {
		return pgtest.WithParams(base, "host", n.host, "port", strconv.Itoa(n.port), "dbname", db)
	}
	all := append([]node{coordinator}, workers...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, n := range all {
			if err := exec(ctx, dsnOf(n, "postgres"), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				t.Errorf("citustest: drop %s on %s: %v", name, net.JoinHostPort(n.host, strconv.Itoa(n.port)), err)
			}
		}
	})
	for _, n := range all {
		if err := exec(ctx, dsnOf(n, "postgres"), "CREATE DATABASE "+name); err != nil {
			t.Fatalf("citustest: create %s: %v", name, err)
		}
		if err := exec(ctx, dsnOf(n, name), "CREATE EXTENSION citus"); err != nil {
			t.Fatalf("citustest: create extension citus in %s: %v", name, err)
		}
	}
	setup := fmt.Sprintf("SELECT citus_set_coordinator_host(%s, %d);", quote(coordinator.host), coordinator.port)
	for _, w := range workers {
		setup += fmt.Sprintf("SELECT citus_add_node(%s, %d);", quote(w.host), w.port)
	}
	if err := exec(ctx, dsnOf(coordinator, name), setup); err != nil {
		t.Fatalf("citustest: register the nodes in %s: %v", name, err)
	}
	return dsnOf(coordinator, name)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// SkipUnderRace skips a Citus test under the race detector. The Citus tests wait on the cluster
// far more than they run Go code: those whose Go code runs concurrently (a move under writers, the
// driver's load tests) run in both passes of .ci/run, the others in the plain pass only, which
// keeps the cluster's share of CI short.
func SkipUnderRace(t testing.TB) {
	t.Helper()
	if race {
		t.Skip("citustest: runs without the race detector only (its Go code is sequential; the cluster does the work)")
	}
}
