package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// benchTenants is the number of dynamic tenants BenchmarkApply1000 applies over.
const benchTenants = 1000

// benchSet copies testdata into a temporary folder, lets edit change the copy, and returns the
// folder. Benchmarks run in process, through the engine, so that the figures are the engine's.
func benchSet(b *testing.B, edit func(dir string)) string {
	b.Helper()
	dir := b.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "testdata"))); err != nil {
		b.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	return dir
}

// benchEdit replaces old with new in the file at rel in dir.
func benchEdit(b *testing.B, dir, rel, old, new string) {
	b.Helper()
	path := filepath.Join(dir, rel)
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		b.Fatalf("%s does not contain %q", rel, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(src), old, new, 1)), 0o644); err != nil {
		b.Fatal(err)
	}
}

// benchEngine loads the set in dir and returns an engine for it on db.
func benchEngine(b *testing.B, dir string, db *sql.DB, parallel int) *schemaset.Engine {
	b.Helper()
	set, err := schemaset.LoadFile(filepath.Join(dir, "pgschemas.hcl"))
	if err != nil {
		b.Fatal(err)
	}
	return schemaset.New(set, db, schemaset.Options{Parallel: parallel})
}

func benchDB(b *testing.B) *sql.DB {
	b.Helper()
	db, err := sql.Open("pgx", pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// benchApply applies eng's set to targets and fails unless want schemas end with outcome o.
func benchApply(b *testing.B, eng *schemaset.Engine, targets []schemaset.Target, parallel int, o schemaset.Outcome, want int) {
	b.Helper()
	rep, err := eng.Apply(context.Background(), targets, schemaset.ApplyOptions{Parallel: parallel})
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		b.Fatal(err)
	}
	if n := rep.Count(o); n != want {
		b.Fatalf("%d schemas %s, want %d", n, o, want)
	}
}

// BenchmarkApply1000 applies over 1,000 dynamic tenants: with nothing to do (case=noop), and
// with one column added to the tenant app per iteration (case=addcolumn), at 1 and 4 workers.
func BenchmarkApply1000(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	dir := benchSet(b, nil)
	eng := benchEngine(b, dir, db, 0)
	all, err := eng.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		b.Fatal(err)
	}
	benchApply(b, eng, all, 0, schemaset.OutcomeApplied, len(all))
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range benchTenants {
		g.Go(func() error { return eng.CreateTenant(gctx, fmt.Sprintf("t%04d", i)) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: %d tenants cloned from the reference in %s", benchTenants, time.Since(start).Round(time.Millisecond))
	targets, err := eng.Select(ctx, schemaset.Selector{Dynamic: true})
	if err != nil {
		b.Fatal(err)
	}
	if len(targets) != benchTenants {
		b.Fatalf("selected %d tenants, want %d", len(targets), benchTenants)
	}

	column := 0
	for _, bc := range []struct {
		name string
		run  func(b *testing.B, parallel int)
	}{
		{"noop", func(b *testing.B, parallel int) {
			for b.Loop() {
				benchApply(b, eng, targets, parallel, schemaset.OutcomeUpToDate, benchTenants)
			}
		}},
		{"addcolumn", func(b *testing.B, parallel int) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				column++
				benchEdit(b, dir, "apps/tenant/notes.sql", "body       text NOT NULL,",
					fmt.Sprintf("body       text NOT NULL,\n  extra_%d integer,", column))
				eng = benchEngine(b, dir, db, 0)
				b.StartTimer()
				benchApply(b, eng, targets, parallel, schemaset.OutcomeApplied, benchTenants)
			}
		}},
	} {
		b.Run("case="+bc.name, func(b *testing.B) {
			for _, parallel := range []int{1, 4} {
				b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
					bc.run(b, parallel)
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchTenants), "µs/schema")
				})
			}
		})
	}
}

// BenchmarkCreateTenant creates one dynamic tenant per iteration: cloned from an up-to-date
// reference (case=reference), or built from the apps in a set without a reference (case=apps).
func BenchmarkCreateTenant(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	withRef := benchEngine(b, benchSet(b, nil), db, 0)
	noRef := benchEngine(b, benchSet(b, func(dir string) {
		benchEdit(b, dir, "pgschemas.hcl", `clone_reference = "sample"`, "")
	}), db, 0)
	all, err := withRef.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		b.Fatal(err)
	}
	benchApply(b, withRef, all, 0, schemaset.OutcomeApplied, len(all))
	n := 0 // tenant names stay unique however often the sub-benchmarks run
	for _, bc := range []struct {
		name string
		eng  *schemaset.Engine
	}{{"reference", withRef}, {"apps", noRef}} {
		b.Run("case="+bc.name, func(b *testing.B) {
			// The engine computes its desired state once: do it outside the timing.
			n++
			if err := bc.eng.CreateTenant(ctx, fmt.Sprintf("%s_warm_%06d", bc.name, n)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				n++
				if err := bc.eng.CreateTenant(ctx, fmt.Sprintf("%s_%06d", bc.name, n)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
