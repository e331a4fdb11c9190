package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

func (a *app) tenantCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant COMMAND",
		Short: "Create, drop, rename, list and move dynamic tenants",
		Long: `tenant manages the dynamic tenants: the rows of public.pgschemas_tenant, their domains in
public.pgschemas_domain, and their schemas.`,
		Example: `  schemaset tenant create acme --domain acme.example.com
  schemaset tenant create globex --domain shared.example.com/globex
  schemaset tenant list --stats
  schemaset tenant rename acme acme_corp
  schemaset tenant drop acme --yes`,
		Args: cobra.NoArgs,
		RunE: a.missingCommand("missing tenant command: create, drop, rename or list"),
	}
	cmd.AddCommand(a.tenantCreateCmd(), a.tenantDropCmd(), a.tenantRenameCmd(), a.tenantListCmd(), a.tenantMoveCmd())
	return cmd
}

// tenantCreateFlags are the flags of tenant create.
type tenantCreateFlags struct {
	domains []string
}

func (a *app) tenantCreateCmd() *cobra.Command {
	var flags tenantCreateFlags
	cmd := &cobra.Command{
		Use:   "create NAME [--domain HOST[/FOLDER]]...",
		Short: "Create a dynamic tenant",
		Long: `create creates the dynamic tenant NAME: in one transaction, its row, its domains and its schema, with
its tables. It claims a pre-cloned schema from the pool (dynamic { pool = N }, see "pool") when one is
current, renaming it to NAME. Else, with a reference schema configured (clone_reference), it clones
the reference, rows included; when the reference exists but is behind the apps, it refuses and says
to run apply first (it never creates a tenant that is behind), and when the reference does not
exist yet, it builds the tables from the apps. Without a reference, it builds the tables from the
apps. On failure, or when interrupted, nothing is left behind.

NAME is the tenant's schema name: a letter or underscore, then letters, digits or underscores, at most
63 in all; not pg_..., not pgschemas_..., and not public, a static tenant or the reference (ignoring case).
Names are unique ignoring case. Each --domain routes a host, or a host and the first folder of the path,
to the tenant (written and checked as for "domain add"); the first one is the tenant's primary domain.`,
		Example: `  schemaset tenant create acme --domain acme.example.com
  schemaset tenant create globex --domain shared.example.com/globex --domain globex.example.com`,
		Args: exactArgs("NAME"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runTenantCreate(ctx, args[0], flags)
		}),
	}
	cmd.Flags().StringArrayVar(&flags.domains, "domain", nil, "a HOST or HOST/FOLDER that routes to the tenant (repeatable; the first is primary)")
	return cmd
}

func (a *app) runTenantCreate(ctx context.Context, name string, flags tenantCreateFlags) error {
	domains := make([]schemaset.Domain, len(flags.domains))
	for i, s := range flags.domains {
		d, err := schemaset.ParseDomain(s)
		if err != nil {
			return usageErrorf("--domain: %w", err)
		}
		domains[i] = d
	}
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		if err := eng.CreateTenant(ctx, name, domains...); err != nil {
			return err
		}
		// The domains as stored (punycode, lower case), the first primary, as CreateTenant made them.
		stored := slices.Clone(domains)
		if len(stored) > 0 {
			stored[0].Primary = true
		}
		return a.emit(jsonTenant{Tenant: name, Domains: stored}, func(w io.Writer) error {
			fmt.Fprintf(w, "created tenant %q", name)
			if len(stored) > 0 {
				fmt.Fprintf(w, " (domains: %s)", domainsText(stored))
			}
			_, err := fmt.Fprintln(w)
			return err
		})
	})
}

// jsonTenant is the --json data of tenant create and tenant drop.
type jsonTenant struct {
	Tenant  string             `json:"tenant"`
	Domains []schemaset.Domain `json:"domains,omitempty"`
}

// tenantDropFlags are the flags of tenant drop.
type tenantDropFlags struct {
	yes bool
}

func (a *app) tenantDropCmd() *cobra.Command {
	var flags tenantDropFlags
	cmd := &cobra.Command{
		Use:   "drop NAME --yes",
		Short: "Drop a dynamic tenant, its schema and all its rows",
		Long: `drop drops the dynamic tenant NAME: its schema with every table and row in it, its row and its
domains, in one transaction. public, the static tenants and the reference are refused. It needs --yes:
without it, nothing happens and drop exits 2.`,
		Example: `  schemaset tenant drop acme --yes`,
		Args:    exactArgs("NAME"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runTenantDrop(ctx, args[0], flags)
		}),
	}
	cmd.Flags().BoolVar(&flags.yes, "yes", false, "confirm: drop the schema and every row in it")
	return cmd
}

func (a *app) runTenantDrop(ctx context.Context, name string, flags tenantDropFlags) error {
	if !flags.yes {
		return usageErrorf("tenant drop %q deletes schema %q and every row in it: confirm with --yes", name, name)
	}
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		if err := eng.DropTenant(ctx, name); err != nil {
			return err
		}
		return a.emit(jsonTenant{Tenant: name}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "dropped tenant %q\n", name)
			return err
		})
	})
}

// cloneFlags are the flags of clone.
type cloneFlags struct {
	tenant bool
}

func (a *app) cloneCmd() *cobra.Command {
	var flags cloneFlags
	cmd := &cobra.Command{
		Use:   "clone SRC DST [--tenant]",
		Short: "Copy a schema, tables and rows, to a new schema",
		Long: `clone copies the schema SRC to the new schema DST in one transaction: tables (partitioned ones with
their partitions), columns with their defaults, identity and generated columns, indexes, constraints,
foreign keys (those inside SRC re-pointed to DST, those to public kept), enum types, domains,
sequences (starting after SRC's current values), views, functions, triggers and comments, and the
rows of every table. References to SRC in them are rewritten to DST. DST must not exist: an existing
DST is refused and left untouched, and a failure leaves nothing behind. With --tenant, DST also
becomes a dynamic tenant (it gets a tenant row, and its name must pass the tenant rules).`,
		Example: `  schemaset clone sample sample_backup
  schemaset clone acme acme2 --tenant`,
		Args: exactArgs("SRC", "DST"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runClone(ctx, args[0], args[1], flags)
		}),
	}
	cmd.Flags().BoolVar(&flags.tenant, "tenant", false, "register DST as a dynamic tenant")
	return cmd
}

func (a *app) runClone(ctx context.Context, src, dst string, flags cloneFlags) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		if err := eng.Clone(ctx, src, dst, flags.tenant); err != nil {
			return err
		}
		return a.emit(struct {
			Source string `json:"source"`
			Target string `json:"target"`
			Tenant bool   `json:"tenant"`
		}{src, dst, flags.tenant}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "cloned %q to %q\n", src, dst)
			return err
		})
	})
}
