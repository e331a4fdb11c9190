// Command schemaset applies a pgschemas.hcl set to a PostgreSQL database and manages its tenants:
// apply, plan, status, createrefschema, tenant create/drop/rename/list/move, domain
// add/remove/list/set-primary, clone, exec, whowill, inspect, pool, demo, version and, on a Citus
// coordinator, rebalance.
// Run "schemaset --help" for the commands and "schemaset COMMAND --help" for each one.
//
// Exit codes: 0 done, 1 failed (a schema failed or was refused, a database or config error),
// 2 usage (a bad flag, a missing argument, "tenant drop" without --yes), 3 changes pending or
// drift found (plan and status with --detailed-exitcode), 128 + the signal's number when a signal
// stopped it (130 for Ctrl-C).
package main

import (
	"context"
	"os"
)

func main() {
	ctx, stop := notifyContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
