package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

func (a *app) domainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domain COMMAND",
		Short: "Route hosts and folders to dynamic tenants",
		Long: `domain manages the rows of public.pgschemas_domain, which route a host, or a host and the first folder of
the path, to a dynamic tenant. The routers of every process (resolve, httpx) see each change within a
second. Static tenants' domains are in pgschemas.hcl.

A HOST is a DNS name: labels of 1 to 63 letters, digits and inner hyphens, at most 253 bytes, without
scheme, port, wildcard, spaces or control characters; case and one trailing dot are ignored, and an
internationalized name is stored in punycode (bücher.example is xn--bcher-kva.example). A FOLDER is
one URL path segment of letters, digits, '-', '.', '_' and '~', not "." or "..".`,
		Example: `  schemaset domain add acme acme.example.com --primary
  schemaset domain add acme shared.example.com/acme --redirect-to-primary
  schemaset domain list acme
  schemaset domain set-primary shared.example.com/acme
  schemaset domain remove acme.example.com`,
		Args: cobra.NoArgs,
		RunE: a.missingCommand("missing domain command: add, remove, list or set-primary"),
	}
	cmd.AddCommand(a.domainAddCmd(), a.domainRemoveCmd(), a.domainListCmd(), a.domainSetPrimaryCmd())
	return cmd
}

// parseDomainArg parses a HOST[/FOLDER] argument; a bad one is a usage error (exit 2).
func parseDomainArg(s string) (schemaset.Domain, error) {
	d, err := schemaset.ParseDomain(s)
	if err != nil {
		return d, usageErrorf("%w", err)
	}
	return d, nil
}

// domainAddFlags are the flags of domain add.
type domainAddFlags struct {
	primary, redirect bool
}

func (a *app) domainAddCmd() *cobra.Command {
	var flags domainAddFlags
	cmd := &cobra.Command{
		Use:   "add TENANT HOST[/FOLDER] [--primary] [--redirect-to-primary]",
		Short: "Route a host, or a host and folder, to a dynamic tenant",
		Long: `add routes HOST, or HOST and its first path folder FOLDER, to the dynamic tenant TENANT. It is refused when
the host and folder already route to a tenant (the message names it), or when the host is a static
tenant's in pgschemas.hcl. With --primary, or when TENANT has no primary domain yet, it becomes the
tenant's primary domain, the one its URLs are built on. With --redirect-to-primary, requests on it are
answered with a redirect (301) to the primary domain.`,
		Example: `  schemaset domain add acme acme.example.com --primary
  schemaset domain add acme www.acme.example.com --redirect-to-primary
  schemaset domain add acme shared.example.com/acme`,
		Args: exactArgs("TENANT", "HOST[/FOLDER]"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runDomainAdd(ctx, args[0], args[1], flags)
		}),
	}
	cmd.Flags().BoolVar(&flags.primary, "primary", false, "make it the tenant's primary domain")
	cmd.Flags().BoolVar(&flags.redirect, "redirect-to-primary", false, "redirect its requests (301) to the tenant's primary domain")
	cmd.MarkFlagsMutuallyExclusive("primary", "redirect-to-primary")
	return cmd
}

func (a *app) runDomainAdd(ctx context.Context, tenant, arg string, flags domainAddFlags) error {
	return a.runOnDomain(ctx, arg, func(eng *schemaset.Engine, d schemaset.Domain) (schemaset.TenantDomain, error) {
		d.Primary, d.RedirectToPrimary = flags.primary, flags.redirect
		return eng.AddDomain(ctx, tenant, d)
	}, func(w io.Writer, row schemaset.TenantDomain) {
		fmt.Fprintf(w, "added domain %s to tenant %q%s\n", row.Domain, row.Tenant, domainNotes(row.Domain))
	})
}

// runOnDomain parses the HOST[/FOLDER] argument arg (a bad one is a usage error), runs op on it,
// and emits the row op returns: the --json data (tenant, domain, folder, primary,
// redirect_to_primary), or through text.
func (a *app) runOnDomain(ctx context.Context, arg string,
	op func(*schemaset.Engine, schemaset.Domain) (schemaset.TenantDomain, error), text func(io.Writer, schemaset.TenantDomain)) error {
	d, err := parseDomainArg(arg)
	if err != nil {
		return err
	}
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		row, err := op(eng, d)
		if err != nil {
			return err
		}
		return a.emit(row, func(w io.Writer) error {
			text(w, row)
			return nil
		})
	})
}

// domainNotes says what is special about d: " (primary)", " (redirects to the primary)".
func domainNotes(d schemaset.Domain) string {
	switch {
	case d.Primary:
		return " (primary)"
	case d.RedirectToPrimary:
		return " (redirects to the primary)"
	}
	return ""
}

func (a *app) domainRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove HOST[/FOLDER]",
		Short: "Stop routing a host, or a host and folder",
		Long: `remove deletes the row of HOST and FOLDER (none: the host alone) from the domain table. When it was its
tenant's primary domain, the tenant has none until "domain set-primary" or "domain add" gives it one.`,
		Example: `  schemaset domain remove acme.example.com
  schemaset domain remove shared.example.com/acme`,
		Args: exactArgs("HOST[/FOLDER]"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runDomainRemove(ctx, args[0])
		}),
	}
}

func (a *app) runDomainRemove(ctx context.Context, arg string) error {
	return a.runOnDomain(ctx, arg, func(eng *schemaset.Engine, d schemaset.Domain) (schemaset.TenantDomain, error) {
		return eng.RemoveDomain(ctx, d)
	}, func(w io.Writer, row schemaset.TenantDomain) {
		fmt.Fprintf(w, "removed domain %s from tenant %q\n", row.Domain, row.Tenant)
		if row.Primary {
			fmt.Fprintf(w, "tenant %q has no primary domain now; give it one with: schemaset domain set-primary HOST[/FOLDER]\n", row.Tenant)
		}
	})
}

func (a *app) domainSetPrimaryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set-primary HOST[/FOLDER]",
		Short: "Make a domain its tenant's primary domain",
		Long: `set-primary makes the domain HOST[/FOLDER] the primary domain of the tenant it routes to: the one its URLs
are built on, and where its redirecting domains send requests. The previous primary domain stays, as a
plain domain; the new one stops redirecting.`,
		Example: `  schemaset domain set-primary acme.example.com`,
		Args:    exactArgs("HOST[/FOLDER]"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runDomainSetPrimary(ctx, args[0])
		}),
	}
}

func (a *app) runDomainSetPrimary(ctx context.Context, arg string) error {
	return a.runOnDomain(ctx, arg, func(eng *schemaset.Engine, d schemaset.Domain) (schemaset.TenantDomain, error) {
		return eng.SetPrimaryDomain(ctx, d)
	}, func(w io.Writer, row schemaset.TenantDomain) {
		fmt.Fprintf(w, "%s is the primary domain of tenant %q\n", row.Domain, row.Tenant)
	})
}

// jsonDomains is the --json data of domain list.
type jsonDomains struct {
	Domains []schemaset.TenantDomain `json:"domains"`
}

func (a *app) domainListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list [TENANT]",
		Short: "List the domains of one dynamic tenant, or of all",
		Long: `list prints the rows of the domain table, of TENANT or of every dynamic tenant: by tenant, the primary
domain first, then by host and folder.`,
		Example: `  schemaset domain list
  schemaset domain list acme --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: runE(func(ctx context.Context, args []string) error {
			tenant := ""
			if len(args) == 1 {
				tenant = args[0]
			}
			return a.runDomainList(ctx, tenant)
		}),
	}
}

func (a *app) runDomainList(ctx context.Context, tenant string) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		rows, err := eng.Domains(ctx, tenant)
		if err != nil {
			return err
		}
		return a.emit(jsonDomains{append([]schemaset.TenantDomain{}, rows...)}, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TENANT\tHOST\tFOLDER\tPRIMARY\tREDIRECT")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Tenant, r.Domain.Domain, dash(r.Folder), yes(r.Primary), yes(r.RedirectToPrimary))
			}
			return tw.Flush()
		})
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}
