package schemaset_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// The reference: 40 tables with 2 indexes and 1 foreign key each (the first to public's
// plans, the others to the table before), 5 sequences (the first five tables' bigserial ids), 2
// views, 1 trigger function with its trigger, and 1,000 seed rows (25 per table).
const (
	benchTables   = 40
	benchPerTable = 25
)

// benchTablesSQL is the bench app: the tables, their keys and indexes.
func benchTablesSQL() string {
	var b strings.Builder
	for i := 1; i <= benchTables; i++ {
		id, ref := "bigint", fmt.Sprintf("t%02d (id)", i-1)
		if i <= 5 {
			id = "bigserial"
		}
		if i == 1 {
			ref = "plans (id)"
		}
		fmt.Fprintf(&b, `CREATE TABLE t%02d (
  id         %s PRIMARY KEY,
  ref_id     bigint REFERENCES %s,
  name       text NOT NULL,
  amount     numeric(12, 2) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t%02d_ref_idx ON t%02d (ref_id);
CREATE INDEX t%02d_name_idx ON t%02d (name, created_at DESC);
`, i, id, ref, i, i, i, i)
	}
	return b.String()
}

// benchExtrasSQL is what apps cannot hold: views, a trigger function and its trigger.
const benchExtrasSQL = `CREATE VIEW recent AS SELECT t01.id, t01.name, t02.name AS child FROM t01 JOIN t02 ON t02.ref_id = t01.id;
CREATE VIEW totals AS SELECT count(*) AS n, sum(amount) AS amount FROM t40;
CREATE FUNCTION trim_name() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := trim(NEW.name); RETURN NEW; END $$;
CREATE TRIGGER t01_trim BEFORE INSERT OR UPDATE ON t01 FOR EACH ROW EXECUTE FUNCTION trim_name();
`

// benchSeedSQL inserts the seed rows and moves the sequences past them.
func benchSeedSQL() string {
	var b strings.Builder
	for i := 1; i <= benchTables; i++ {
		var rows []string
		for r := 1; r <= benchPerTable; r++ {
			ref := fmt.Sprint(r)
			if i == 1 {
				ref = "NULL"
			}
			rows = append(rows, fmt.Sprintf("(%d, %s, 'row %d of t%02d', %d.50)", r, ref, r, i, r))
		}
		fmt.Fprintf(&b, "INSERT INTO t%02d (id, ref_id, name, amount) VALUES %s;\n", i, strings.Join(rows, ", "))
		if i <= 5 {
			fmt.Fprintf(&b, "SELECT setval('t%02d_id_seq', %d);\n", i, benchPerTable)
		}
	}
	return b.String()
}

// benchSetDir writes a set with the shared app in public and the bench app for the dynamic
// tenants, with or without a reference.
func benchSetDir(b testing.TB, reference bool) *schemaset.Set {
	dir := b.TempDir()
	plans, err := os.ReadFile("../testdata/apps/shared/plans.sql")
	if err != nil {
		b.Fatal(err)
	}
	hcl := "apps_dir = \"apps\"\npublic {\n  apps = [\"shared\"]\n}\ndynamic {\n  apps = [\"bench\"]\n"
	if reference {
		hcl += "  clone_reference = \"sample\"\n"
	}
	hcl += "}\n"
	for name, data := range map[string]string{
		"pgschemas.hcl":         hcl,
		"apps/shared/plans.sql": string(plans),
		"apps/bench/tables.sql": benchTablesSQL(),
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	set, err := schemaset.LoadFile(filepath.Join(dir, "pgschemas.hcl"))
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// BenchmarkClone measures tenant creation against the reference:
//
//   - case=clone: CreateTenant, cloning the reference (structure, rows, sequences);
//   - case=apps: CreateTenant in a set without a reference, from the apps' plan (tables, indexes
//     and keys only: apps hold no views, functions, triggers or rows);
//   - case=floor: the same DDL and rows as one SQL script, run by psql -1 (a process and a
//     connection per tenant, as the issue defines the floor);
//   - case=floor-exec: that script through the benchmark's pool, in one transaction (no process
//     or connection to start), for a floor without psql's own costs;
//   - case=clone-parallel4: case=clone with 4 creations at a time; tenants/s is the throughput.
//
// Wall time on a shared machine is noisy, so the sequential cases run through the pool also
// report server-ms/op: the CPU time of the database's backends (from /proc/PID/schedstat, when
// the server runs on this host), which other load disturbs much less.
func BenchmarkClone(b *testing.B) {
	ctx := context.Background()
	env := newBenchEnv(b)
	db, withRef, noRef := env.db, env.withRef, env.noRef
	name := env.name
	create := func(b *testing.B, e *schemaset.Engine, prefix string) {
		// The engine computes its desired state and its clone script once: not in the timing.
		if err := e.CreateTenant(ctx, name(prefix+"_warm")); err != nil {
			b.Fatal(err)
		}
		cpu := serverCPU(b, db)
		for b.Loop() {
			if err := e.CreateTenant(ctx, name(prefix)); err != nil {
				b.Fatal(err)
			}
		}
		cpu(b)
	}
	b.Run("case=clone", func(b *testing.B) { create(b, withRef, "clone") })
	b.Run("case=apps", func(b *testing.B) { create(b, noRef, "apps") })
	b.Run("case=floor", func(b *testing.B) {
		for b.Loop() {
			if err := env.floorPsql(name("floor")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("case=floor-exec", func(b *testing.B) {
		cpu := serverCPU(b, db)
		for b.Loop() {
			if err := env.floorExec(ctx, name("exec")); err != nil {
				b.Fatal(err)
			}
		}
		cpu(b)
	})
	b.Run("case=clone-parallel4", func(b *testing.B) {
		if err := withRef.CreateTenant(ctx, name("par_warm")); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		var g errgroup.Group
		g.SetLimit(4)
		for range b.N {
			g.Go(func() error { return withRef.CreateTenant(ctx, name("par")) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tenants/s")
	})
}

// benchEnv is the reference on a throwaway database: applied, seeded, and written as
// the floor's script.
type benchEnv struct {
	db  *sql.DB
	dsn string
	// withRef and noRef are engines on sets with and without the reference (sample).
	withRef, noRef *schemaset.Engine
	// floor is the path of the psql script that creates :"schema" with the reference's DDL and
	// rows; script is that DDL and rows, for the schema first on the search path.
	floor, script string
	n             atomic.Int64
}

func newBenchEnv(b *testing.B) *benchEnv {
	ctx := context.Background()
	env := &benchEnv{dsn: pgtest.NewDatabase(b)}
	db, err := sql.Open("pgx", env.dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(12)
	db.SetMaxIdleConns(12) // keep the backends, whose CPU time serverCPU reads
	env.db = db
	env.withRef = schemaset.New(benchSetDir(b, true), db, schemaset.Options{})
	env.noRef = schemaset.New(benchSetDir(b, false), db, schemaset.Options{})
	targets, err := env.withRef.Select(ctx, schemaset.Selector{All: true})
	if err != nil {
		b.Fatal(err)
	}
	rep, err := env.withRef.Apply(ctx, targets, schemaset.ApplyOptions{})
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec("SET search_path = sample, public;" + benchExtrasSQL + benchSeedSQL() + "RESET search_path"); err != nil {
		b.Fatal(err)
	}
	env.floor = filepath.Join(b.TempDir(), "floor.sql")
	env.script = benchTablesSQL() + benchExtrasSQL + benchSeedSQL()
	if err := os.WriteFile(env.floor, []byte("CREATE SCHEMA :\"schema\";\nSET search_path = :\"schema\", public;\n"+env.script), 0o644); err != nil {
		b.Fatal(err)
	}
	return env
}

// name returns a new tenant name; names stay unique however often the sub-benchmarks run.
func (env *benchEnv) name(prefix string) string {
	return fmt.Sprintf("%s_%06d", prefix, env.n.Add(1))
}

// floorPsql creates the schema s from the floor's script with psql -1: one process, connection
// and transaction.
func (env *benchEnv) floorPsql(s string) error {
	out, err := exec.Command("psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-v", "schema="+s, "-f", env.floor, env.dsn).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql: %v\n%s", err, out)
	}
	return nil
}

// floorExec creates the schema s from the floor's script through the pool, in one transaction
// and one round trip.
func (env *benchEnv) floorExec(ctx context.Context, s string) error {
	tx, err := env.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("CREATE SCHEMA %s; SET LOCAL search_path = %s, public;\n%s", s, s, env.script)); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// serverCPU starts measuring the CPU time of the backends connected to db's database, and returns
// the func that reports it per iteration as server-ms/op. It reports nothing when /proc does not
// show the backends (a server on another host).
func serverCPU(b *testing.B, db *sql.DB) func(*testing.B) {
	read := func() (time.Duration, bool) {
		rows, err := db.Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		var total time.Duration
		for rows.Next() {
			var pid int
			if err := rows.Scan(&pid); err != nil {
				b.Fatal(err)
			}
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
			if err != nil {
				return 0, false
			}
			var ns int64
			if _, err := fmt.Sscan(string(data), &ns); err != nil {
				return 0, false
			}
			total += time.Duration(ns)
		}
		return total, rows.Err() == nil
	}
	start, ok := read()
	return func(b *testing.B) {
		if end, ok2 := read(); ok && ok2 && end > start {
			b.ReportMetric(float64((end-start).Microseconds())/1000/float64(b.N), "server-ms/op")
		}
	}
}
