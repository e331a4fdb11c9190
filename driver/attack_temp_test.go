package driver_test

import (
	"fmt"
	"testing"
)

// tempAttacks create a temporary object named notes in tenant A's context. PostgreSQL looks in
// pg_temp first for relations unless the path names it, so unless every path the driver sets ends
// with pg_temp, the object shadows every tenant's notes on that backend (and, behind a transaction
// pooler, for every client of that server session).
var tempAttacks = []struct {
	name  string
	steps []string
}{
	{"CREATE TEMP TABLE", []string{
		"CREATE TEMP TABLE notes (owner text NOT NULL, note text NOT NULL)",
		"INSERT INTO pg_temp.notes VALUES ('temp', 'seed')",
	}},
	{"CREATE TEMP VIEW", []string{"CREATE TEMP VIEW notes AS SELECT 'temp'::text AS owner, 'seed'::text AS note"}},
	// In strict mode the temporary table belongs to A's role; granted to PUBLIC, it would collect
	// the unqualified INSERTs of every tenant's role.
	{"GRANT ALL ON pg_temp.notes TO PUBLIC", []string{
		"CREATE TEMP TABLE notes (owner text NOT NULL, note text NOT NULL)",
		"INSERT INTO pg_temp.notes VALUES ('temp', 'seed')",
		"GRANT ALL ON pg_temp.notes TO PUBLIC",
	}},
}

// TestAttackTempObjects: after A creates a temporary notes, A, B and a context without a tenant
// read and write their own notes, never the temporary one, on a pool of one connection. Each
// attack gets a database of its own: behind PgBouncer, temporary objects outlive the client in
// the server sessions of that database. The victims run three times, so that behind PgBouncer
// they reach either server session.
func TestAttackTempObjects(t *testing.T) {
	eachAttackMode(t, func(t *testing.T, m attackMode) {
		for _, at := range tempAttacks {
			t.Run(at.name, func(t *testing.T) {
				e := newAttackEnv(t, m, 2, notesSetup)
				c := e.open(t, e.app, 1)
				for _, s := range at.steps {
					if err := c.exec(in(e.tenants[0]), s); err != nil {
						t.Logf("the attack's %q failed: %v", s, err) // as it should in strict mode: no TEMP privilege
						break
					}
				}
				for round := range 3 {
					e.victims(t, c, fmt.Sprintf("round %d after the attack", round), fmt.Sprintf("temp%d", round))
				}
			})
		}
	})
}

// TestAttackStrictNoTempPrivilege: in strict mode, a tenant's role may not create temporary
// objects (SQLSTATE 42501), alone or in a transaction: its objects would outlive its statements
// in the server session, which other tenants' statements share.
func TestAttackStrictNoTempPrivilege(t *testing.T) {
	e := newAttackEnv(t, attackMode{name: "strict", strict: true}, 2, notesSetup)
	c := e.open(t, e.app, 1)
	for i, s := range e.tenants {
		wantDenied(t, s+": CREATE TEMP TABLE", c.exec(in(s), fmt.Sprintf("CREATE TEMP TABLE scratch%d (x int)", i)))
		tx, commit, err := c.begin(in(s))
		if err != nil {
			t.Fatal(err)
		}
		wantDenied(t, s+": CREATE TEMP TABLE in a transaction", tx.exec(in(s), "CREATE TEMP TABLE scratch (x int) ON COMMIT DROP"))
		_ = commit()
	}
}
