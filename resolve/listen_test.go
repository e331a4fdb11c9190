package resolve

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pgschemas/pgschemas/internal/pgtest"
	"github.com/pgschemas/pgschemas/schemaset"
)

// notifyLimit is how soon a change must be routed by every resolver.
const notifyLimit = time.Second

// TestNotifyTwoResolvers runs two resolvers on two pools of two drivers (pgx stdlib and
// pgschemas), with a TTL too long to matter: a domain added, moved and removed through one pool is
// routed correctly by both within a second.
func TestNotifyTwoResolvers(t *testing.T) {
	dbA, dsn := openDB(t, "pgx")
	dbB := openDSN(t, "pgschemas", dsn)
	a := newResolver(t, dynamicConfig(), dbA, Options{TTL: time.Hour})
	b := newResolver(t, dynamicConfig(), dbB, Options{TTL: time.Hour})
	waitListening(t, a, b)
	addTenant(t, dbA, "acme")
	addTenant(t, dbA, "globex")

	expect := func(step, host, path, want string) {
		t.Helper()
		for name, r := range map[string]*Resolver{"A": a, "B": b} {
			waitFor(t, notifyLimit, step+": resolver "+name+" routes "+host+path+" to "+want, func() bool {
				tenant, _, err := r.Resolve(context.Background(), host, path)
				return tenant.Schema == want || want == "none" && errors.Is(err, ErrNoTenant)
			})
		}
	}
	// Cache the answers first, so that what follows proves invalidation, not a first load.
	expect("before", "new.test", "/", "none")
	expect("before", "shared.test", "/f/", "none")
	loads := b.Stats().Loads

	addDomain(t, dbA, "new.test", "", "acme", false, false)
	expect("added", "new.test", "/", "acme")
	exec(t, dbA, `UPDATE public.pgschemas_domain SET tenant = 'globex' WHERE domain = 'new.test'`)
	expect("moved to another tenant", "new.test", "/", "globex")
	exec(t, dbA, `UPDATE public.pgschemas_domain SET domain = 'shared.test', folder = 'f' WHERE domain = 'new.test'`)
	expect("moved to another host and folder", "shared.test", "/f/", "globex")
	expect("moved away", "new.test", "/", "none")
	exec(t, dbA, `DELETE FROM public.pgschemas_domain WHERE domain = 'shared.test'`)
	expect("removed", "shared.test", "/", "none")
	addDomain(t, dbA, "new.test", "", "acme", false, false)
	exec(t, dbA, `DELETE FROM public.pgschemas_tenant WHERE schema_name = 'acme'`) // cascades
	expect("tenant removed", "new.test", "/", "none")

	s := b.Stats()
	if s.Notifications == 0 || s.Connects != 1 || s.Loads-loads > 12 {
		t.Fatalf("B's stats = %+v, want notifications, one connection, and few loads", s)
	}
}

// TestNotifyPrimaryMove checks that moving a tenant's primary domain updates the tenant's answers
// on its other hosts, and in Lookup.
func TestNotifyPrimaryMove(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	res := newResolver(t, dynamicConfig(), db, Options{TTL: time.Hour})
	waitListening(t, res)
	addTenant(t, db, "acme")
	addDomain(t, db, "alias.test", "", "acme", false, true)
	addDomain(t, db, "one.test", "", "acme", false, false)

	// primary returns the primary domain that Resolve and Lookup give.
	primary := func() string {
		tenant, _, err := res.Resolve(context.Background(), "alias.test", "/")
		if err != nil {
			return err.Error()
		}
		byName, err := res.Lookup(context.Background(), "acme")
		if err != nil {
			return err.Error()
		}
		return tenant.PrimaryDomain + " " + byName.PrimaryDomain
	}
	if got := primary(); got != "alias.test " { // no primary row: the matched domain, and none by name
		t.Fatalf("primary = %q, want the matched domain", got)
	}
	for _, step := range []struct{ sql, want string }{
		{`UPDATE public.pgschemas_domain SET is_primary = true WHERE domain = 'one.test'`, "one.test"},
		{`INSERT INTO public.pgschemas_domain (domain, tenant) VALUES ('two.test', 'acme');
		  UPDATE public.pgschemas_domain SET is_primary = (domain = 'two.test') WHERE tenant = 'acme'`, "two.test"},
		{`UPDATE public.pgschemas_domain SET domain = 'three.test' WHERE domain = 'two.test'`, "three.test"},
	} {
		exec(t, db, step.sql)
		waitFor(t, notifyLimit, "primary "+step.want, func() bool { return primary() == step.want+" "+step.want })
	}
	exec(t, db, `DELETE FROM public.pgschemas_domain WHERE domain = 'three.test'`)
	waitFor(t, notifyLimit, "no primary", func() bool { return primary() == "alias.test " })
}

// TestListenReconnects kills the LISTEN connection's backend: the resolver reconnects, serves
// changes made while it was down, and goes on following notifications.
func TestListenReconnects(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	res := newResolver(t, dynamicConfig(), db, Options{TTL: time.Hour})
	waitListening(t, res)
	addTenant(t, db, "acme")
	if got := resolveSchema(res, "gap.test", "/"); got == "acme" {
		t.Fatal("gap.test routed before its row exists")
	}

	var killed bool
	// The driver sends the LISTEN after its stamp, in one text: the pattern matches its end.
	err := db.QueryRow(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE '%LISTEN "pgschemas\_domain"'`).Scan(&killed)
	if err != nil || !killed {
		t.Fatalf("terminate the LISTEN backend: %v, %v", killed, err)
	}
	addDomain(t, db, "gap.test", "", "acme", false, false) // possibly while nobody listens
	waitFor(t, 10*time.Second, "a second connection", func() bool { return res.Stats().Connects == 2 && res.Listening() })
	waitFor(t, notifyLimit, "gap.test routes to acme", func() bool { return resolveSchema(res, "gap.test", "/") == "acme" })

	addDomain(t, db, "after.test", "", "acme", false, false)
	exec(t, db, `DELETE FROM public.pgschemas_domain WHERE domain = 'gap.test'`)
	waitFor(t, notifyLimit, "changes after the reconnect", func() bool {
		return resolveSchema(res, "after.test", "/") == "acme" && errors.Is(errFrom(res, "gap.test"), ErrNoTenant)
	})
}

// TestCloseReleasesConnection checks that the LISTEN connection is held while listening, and
// closed, not pooled, by Close.
func TestCloseReleasesConnection(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	res, err := New(dynamicConfig(), db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	waitListening(t, res)
	if s := db.Stats(); s.InUse != 1 {
		t.Fatalf("while listening: %d connections in use, want 1", s.InUse)
	}
	listeners := func() (n int) {
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE '%LISTEN "pgschemas\_domain"'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := listeners(); n != 1 {
		t.Fatalf("%d listening backends, want 1", n)
	}
	res.Close()
	res.Close() // idempotent
	if res.Listening() {
		t.Fatal("listening after Close")
	}
	if s := db.Stats(); s.InUse != 0 || s.MaxIdleClosed+s.MaxLifetimeClosed > 0 {
		t.Fatalf("after Close: %+v", s)
	}
	waitFor(t, 5*time.Second, "the LISTEN backend ends", func() bool { return listeners() == 0 })
	// Resolve keeps working, without notifications.
	if _, _, err := res.Resolve(context.Background(), "acme.test", "/"); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("Resolve after Close: %v", err)
	}
}

func TestDisableListen(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	res := newResolver(t, dynamicConfig(), db, Options{DisableListen: true})
	resolveSchema(res, "acme.test", "/")
	if res.Listening() || db.Stats().InUse != 0 || res.Stats().Connects != 0 {
		t.Fatalf("DisableListen: listening %v, %+v", res.Listening(), db.Stats())
	}
}

// TestListenRetriesUntilTheDatabaseIsThere starts a resolver on a database that does not exist
// yet: lookups fail, and once the database is created the resolver listens and routes.
func TestListenRetriesUntilTheDatabaseIsThere(t *testing.T) {
	admin := pgtest.AdminDSN(t)
	name := fmt.Sprintf("pgschemas_test_later_%d", time.Now().UnixNano())
	t.Cleanup(func() { // runs last, after the pool and the resolver are closed
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	db := openDSN(t, "pgschemas", pgtest.WithParams(admin, "dbname", name))
	res := newResolver(t, dynamicConfig(), db, Options{})
	if _, _, err := res.Resolve(context.Background(), "acme.test", "/"); err == nil || errors.Is(err, ErrNoTenant) {
		t.Fatalf("Resolve without the database: %v, want the connection error", err)
	}
	if res.Listening() {
		t.Fatal("listening on a database that does not exist")
	}
	if err := adminExec(admin, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	if err := schemaset.EnsureRegistry(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	waitListening(t, res)
	addTenant(t, db, "acme")
	addDomain(t, db, "acme.test", "", "acme", false, false)
	waitFor(t, notifyLimit, "acme.test routes", func() bool { return resolveSchema(res, "acme.test", "/") == "acme" })
}

// adminExec runs one statement on the server's maintenance database.
func adminExec(admin, stmt string) error {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}

// TestListenHealthCheck makes the listener check its connection after 20 ms without a
// notification: the check keeps the same connection, which still delivers notifications.
func TestListenHealthCheck(t *testing.T) {
	db, _ := openDB(t, "pgschemas")
	res, err := create(dynamicConfig(), db, Options{TTL: time.Hour}, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	waitListening(t, res)
	addTenant(t, db, "acme")
	resolveSchema(res, "acme.test", "/")
	var checks int
	waitFor(t, 10*time.Second, "health checks", func() bool {
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND query LIKE '%;SELECT 1'`).Scan(&checks); err != nil {
			t.Fatal(err)
		}
		return checks == 1
	})
	if s := res.Stats(); s.Connects != 1 || !s.Listening {
		t.Fatalf("after health checks: %+v, want the first connection, listening", s)
	}
	addDomain(t, db, "acme.test", "", "acme", false, false)
	waitFor(t, notifyLimit, "acme.test routes", func() bool { return resolveSchema(res, "acme.test", "/") == "acme" })
}
