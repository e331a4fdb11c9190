package driver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// notesSetup returns the admin SQL of the path and temp attacks: public and each tenant have
// notes(owner, note) with one seed row whose owner is the schema's name; each tenant has an audit
// table whose INSERT trigger calls set_config (pointing the path at the last tenant); public has
// functions and a procedure that change the path, or RESET ALL.
func notesSetup(tenants []string) string {
	var b strings.Builder
	b.WriteString(`CREATE TABLE public.notes (owner text NOT NULL, note text NOT NULL);
		INSERT INTO public.notes VALUES ('public', 'seed');
		CREATE FUNCTION public.evil_sql(text) RETURNS text LANGUAGE sql AS $$ SELECT set_config('search_path', $1, false) $$;
		CREATE FUNCTION public.evil_plpgsql(p text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('search_path', p, false); END $$;
		CREATE PROCEDURE public.evil_proc(p text) LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('search_path', p, false); END $$;
		CREATE FUNCTION public.evil_reset() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RESET ALL; END $$;
		CREATE FUNCTION public.evil_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM set_config('search_path', TG_ARGV[0], false); RETURN NEW; END $$;
		DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database()); END $$;
	`)
	last := tenants[len(tenants)-1]
	for _, s := range tenants {
		q := pgx.Identifier{s}.Sanitize()
		fmt.Fprintf(&b, `CREATE SCHEMA %[1]s;
			CREATE TABLE %[1]s.notes (owner text NOT NULL, note text NOT NULL);
			INSERT INTO %[1]s.notes VALUES ('%[2]s', 'seed');
			CREATE TABLE %[1]s.audit (x int);
			CREATE TRIGGER evil BEFORE INSERT ON %[1]s.audit FOR EACH ROW EXECUTE FUNCTION public.evil_trigger('%[3]s');
		`, q, s, last)
	}
	return b.String()
}

// A pathAttack is SQL that tenant A runs to point its session's search path elsewhere: at B's
// schema ({B} in its steps stands for B's name, {TAG} for a name unique to the subtest), or at
// public (the RESETs). Each step is one statement of its own, with its arguments.
type pathAttack struct {
	name  string
	steps []attackStep
	// noTx: PostgreSQL refuses the statement inside a transaction block, so it runs alone only.
	noTx bool
	// reconnect: the attack takes effect in new sessions; the victims run on a new pool.
	reconnect bool
	// cleanup is admin SQL run after the subtest, for attacks that outlive the pool (reconnect).
	cleanup string
}

type attackStep struct {
	sql  string
	args []any // {B} in an argument that is a string is B's name too
}

func step(sql string, args ...any) attackStep { return attackStep{sql: sql, args: args} }

// resetRoleSettings removes what ALTER ROLE ... IN DATABASE and ALTER DATABASE set in the
// database: they reach every new session of it.
const resetRoleSettings = `DO $$ DECLARE r record; BEGIN
	FOR r IN SELECT rolname FROM pg_db_role_setting s JOIN pg_roles ON pg_roles.oid = s.setrole
		WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) LOOP
		EXECUTE format('ALTER ROLE %I IN DATABASE %I RESET search_path', r.rolname, current_database());
	END LOOP;
	EXECUTE format('ALTER DATABASE %I RESET search_path', current_database());
END $$`

// pathAttacks are the forms of SQL that change a session's search path without the words that
// main's session mode looks for, and some with them.
var pathAttacks = []pathAttack{
	{name: "SET search_path", steps: []attackStep{step("SET search_path = {B}")}},
	{name: "SET SESSION search_path", steps: []attackStep{step("SET SESSION search_path TO {B}, public")}},
	{name: "SET SCHEMA", steps: []attackStep{step("SET SCHEMA '{B}'")}},
	{name: "SET LOCAL", steps: []attackStep{step("SET LOCAL search_path = {B}")}},
	{name: "set_config", steps: []attackStep{step("SELECT set_config('search_path', '{B}', false)")}},
	{name: "set_config with arguments", steps: []attackStep{step("SELECT set_config($1, $2, false)", "search_path", "{B}")}},
	{name: "set_config of a concatenated name", steps: []attackStep{step("SELECT set_config('search' || '_path', '{B}', false)")}},
	{name: "Unicode-escaped identifier", steps: []attackStep{step(`SET U&"search\005Fpath" = {B}`)}},
	{name: "E string escapes", steps: []attackStep{step(`SELECT set_config(E'search\x5Fpath', '{B}', false)`)}},
	{name: "set_config in a CTE", steps: []attackStep{step("WITH s AS (SELECT set_config('search' || '_path', '{B}', false) AS v) SELECT v FROM s")}},
	{name: "PREPARE then EXECUTE", steps: []attackStep{
		step("PREPARE evil_{TAG} AS SELECT set_config('search_path', '{B}', false)"),
		step("EXECUTE evil_{TAG}"),
	}},
	{name: "DO with EXECUTE", steps: []attackStep{step("DO $$ BEGIN EXECUTE 'SET search_path = {B}'; END $$")}},
	{name: "SQL function", steps: []attackStep{step("SELECT public.evil_sql('{B}')")}},
	{name: "PLpgSQL function", steps: []attackStep{step("SELECT public.evil_plpgsql('{B}')")}},
	{name: "procedure", steps: []attackStep{step("CALL public.evil_proc('{B}')")}},
	{name: "INSERT firing a trigger", steps: []attackStep{step("INSERT INTO audit VALUES (1)")}},
	{name: "function running RESET ALL", steps: []attackStep{step("SELECT public.evil_reset()")}},
	{name: "RESET ALL", steps: []attackStep{step("RESET ALL")}},
	{name: "RESET two spaces ALL", steps: []attackStep{step("RESET  ALL")}},
	{name: "RESET newline ALL", steps: []attackStep{step("RESET\nALL")}},
	{name: "RESET comment ALL", steps: []attackStep{step("RESET/**/ALL")}},
	{name: "RESET search_path", steps: []attackStep{step("RESET search_path")}},
	{name: "DISCARD ALL", steps: []attackStep{step("DISCARD ALL")}, noTx: true},
	{name: "DEALLOCATE ALL", steps: []attackStep{step("DEALLOCATE ALL")}},
	{name: "ALTER ROLE IN DATABASE SET, new connection", reconnect: true, cleanup: resetRoleSettings, steps: []attackStep{
		step("DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET search_path = {B}', current_database()); END $$"),
	}},
	{name: "ALTER DATABASE SET, new connection", reconnect: true, cleanup: resetRoleSettings, steps: []attackStep{
		step("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = {B}', current_database()); END $$"),
	}},
}

// How tenant A runs an attack: alone, between BEGIN and COMMIT sent as SQL on one held
// connection, or in a transaction of BeginTx (pool.Begin).
const (
	wrapAlone = "alone"
	wrapSQLTx = "BEGIN-COMMIT on one connection"
	wrapTx    = "BeginTx"
)

// TestAttackPathChanges: tenant A runs SQL that points its session's search path at tenant B's
// schema (or, resetting it, at public), on a pool of one connection. Then A, B and a context
// without a tenant each read their notes and insert into them: each read must see its own
// schema's seed row, and each insert must land in its own schema's table, whatever A ran. Inside
// A's transaction, A's own reads after the attack must see A's rows too. The next operation
// after DISCARD ALL or DEALLOCATE ALL must not fail (pgx's cached statements are gone).
func TestAttackPathChanges(t *testing.T) {
	eachAttackMode(t, func(t *testing.T, m attackMode) {
		e := newAttackEnv(t, m, 2, notesSetup)
		// The attacks that change one session run in parallel, each on a pool of its own; then
		// those that reach every new session of the database, one at a time.
		t.Run("session", func(t *testing.T) {
			for i, at := range pathAttacks {
				if !at.reconnect {
					t.Run(at.name, func(t *testing.T) {
						t.Parallel()
						e.eachWrap(t, i, at)
					})
				}
			}
		})
		for i, at := range pathAttacks {
			if at.reconnect {
				t.Run(at.name, func(t *testing.T) {
					t.Cleanup(func() { admin(t, e.admin, at.cleanup) })
					e.eachWrap(t, i, at)
				})
			}
		}
	})
}

// eachWrap runs attack i as a subtest for each way A may run it.
func (e *attackEnv) eachWrap(t *testing.T, i int, at pathAttack) {
	for j, wrap := range []string{wrapAlone, wrapSQLTx, wrapTx} {
		if wrap != wrapAlone && (at.noTx || at.reconnect) {
			continue
		}
		t.Run(wrap, func(t *testing.T) {
			e.runPathAttack(t, at, wrap, fmt.Sprintf("a%d_%d", i, j)) // the tag is also a name
		})
	}
}

// runPathAttack warms a pool of one connection in every target, runs the attack in A's context,
// and checks the victims.
func (e *attackEnv) runPathAttack(t *testing.T, at pathAttack, wrap, tag string) {
	a, b := e.tenants[0], e.tenants[1]
	c := e.open(t, e.app, 1)
	defer func() { c.close() }()
	// The connection serves every target, and caches their statements, before the attack.
	for _, s := range []string{a, b, "public"} {
		wantSeed(t, c, s, "warm-up: "+s+"'s read")
		if err := c.exec(ctxOf(s), "INSERT INTO notes (owner, note) VALUES ($1, $2)", s, "warm-up"); err != nil {
			t.Fatalf("warm-up: %s's insert: %v", s, err)
		}
	}

	ctxA := in(a)
	var q attackQ = c
	var end func() error
	switch wrap {
	case wrapSQLTx:
		held, release, err := c.conn(ctxA)
		if err != nil {
			t.Fatal(err)
		}
		if err := held.exec(ctxA, "BEGIN"); err != nil {
			release()
			t.Fatal(err)
		}
		q, end = held, func() error { // the pool's one connection goes back for the victims
			defer release()
			return held.exec(ctxA, "COMMIT")
		}
	case wrapTx:
		tx, commit, err := c.begin(ctxA)
		if err != nil {
			t.Fatal(err)
		}
		q, end = tx, commit
	}
	ran := true
	for _, s := range at.steps {
		args := make([]any, len(s.args))
		for i, v := range s.args {
			if str, ok := v.(string); ok {
				v = strings.ReplaceAll(str, "{B}", b)
			}
			args[i] = v
		}
		// The attack may fail in a mode that forbids it (strict mode's roles, PgBouncer's sessions):
		// what matters is what follows it.
		query := strings.NewReplacer("{B}", b, "{TAG}", tag).Replace(s.sql)
		if err := q.exec(ctxA, query, args...); err != nil {
			t.Logf("the attack's %q failed: %v", query, err)
			ran = false
			break
		}
	}
	if end != nil {
		if ran {
			wantSeed(t, q, a, "A's read in its transaction, after the attack")
		}
		if err := end(); err != nil {
			t.Logf("the end of the attack's transaction: %v", err)
		}
	}
	if at.reconnect {
		c.close()
		c = e.open(t, e.app, 1)
	}
	e.victims(t, c, "after the attack", tag)
}

// victims runs, in A's context, B's and one without a tenant, a read of the seed row and an insert
// of a row noted tag; then checks from outside the driver that each insert landed in its own
// schema's table, and nowhere else.
func (e *attackEnv) victims(t *testing.T, c attackClient, when, tag string) {
	t.Helper()
	targets := []string{e.tenants[0], e.tenants[1], "public"}
	for _, s := range targets {
		wantSeed(t, c, s, when+": "+s+"'s read")
		if err := c.exec(ctxOf(s), "INSERT INTO notes (owner, note) VALUES ($1, $2)", s, tag); err != nil {
			t.Errorf("%s: %s's insert: %v", when, s, err)
		}
	}
	e.wantNotes(t, when, tag, targets)
}

// wantSeed checks that a read of notes' seed row through q in schema's context (none for public)
// sees that schema's row, and only it.
func wantSeed(t *testing.T, q attackQ, schema, what string) {
	t.Helper()
	owners, err := q.texts(ctxOf(schema), "SELECT owner FROM notes WHERE note = 'seed'")
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if len(owners) != 1 || owners[0] != schema {
		t.Errorf("%s: saw the seed rows of %q, want %s's alone: a wrong-tenant read", what, owners, schema)
	}
}

// wantNotes checks, from outside the driver, that the rows noted tag in every tenant's notes and
// public's are exactly one per writer, in the writer's own table.
func (e *attackEnv) wantNotes(t *testing.T, when, tag string, writers []string) {
	t.Helper()
	var union []string
	for _, s := range append(append([]string(nil), e.tenants...), "public") {
		union = append(union, fmt.Sprintf("SELECT %s::text AS s, owner FROM %s.notes WHERE note = $1",
			quoteLiteral(s), pgx.Identifier{s}.Sanitize()))
	}
	rows, err := e.adminPool.Query(context.Background(), strings.Join(union, " UNION ALL "), tag)
	if err != nil {
		t.Fatal(err)
	}
	var table, owner string
	var got [][2]string
	_, err = pgx.ForEachRow(rows, []any{&table, &owner}, func() error {
		got = append(got, [2]string{table, owner})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, p := range got {
		if table, owner := p[0], p[1]; table != owner {
			t.Errorf("%s: %s's insert landed in %s.notes: a wrong-tenant write", when, owner, table)
		} else {
			found[owner]++
		}
	}
	for _, w := range writers {
		if found[w] != 1 {
			t.Errorf("%s: %d rows of %s's insert in %s.notes, want 1", when, found[w], w, w)
		}
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
