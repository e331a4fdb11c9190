package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

// tenantListFlags are the flags of tenant list.
type tenantListFlags struct {
	stats bool
}

// jsonTenants is the --json data of tenant list.
type jsonTenants struct {
	Tenants []schemaset.TenantInfo `json:"tenants"`
	// Placements are the tenants' nodes, sizes and Citus' counts, on a Citus coordinator.
	Placements []schemaset.Placement `json:"placements,omitempty"`
}

func (a *app) tenantListCmd() *cobra.Command {
	var flags tenantListFlags
	cmd := &cobra.Command{
		Use:   "list [--stats]",
		Short: "List the dynamic tenants with their domains",
		Long: `list prints each dynamic tenant, sorted by name, with its domains (the primary first). With --stats it adds
the schema's size on disk, its tables, its estimated rows and when it was last applied: PostgreSQL's
estimates from the catalog (as of the last VACUUM, ANALYZE or CREATE INDEX of each table; autovacuum
keeps them recent), read in one query whatever the number of tenants, without touching the tables.`,
		Example: `  schemaset tenant list
  schemaset tenant list --stats
  schemaset tenant list --stats --json`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runTenantList(ctx, flags)
		}),
	}
	cmd.Flags().BoolVar(&flags.stats, "stats", false, "add each tenant's size, tables, estimated rows and last apply")
	return cmd
}

func (a *app) runTenantList(ctx context.Context, flags tenantListFlags) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		tenants, err := eng.ListTenants(ctx, schemaset.TenantListOptions{Stats: flags.stats})
		if err != nil {
			return err
		}
		citus, err := eng.Citus(ctx)
		if err != nil {
			return err
		}
		var names []string
		var placements []schemaset.Placement
		if citus != nil {
			for _, t := range tenants {
				names = append(names, t.Name)
			}
			if placements, err = eng.Placements(ctx, names); err != nil {
				return err
			}
		}
		return a.emit(jsonTenants{append([]schemaset.TenantInfo{}, tenants...), placements}, func(w io.Writer) error {
			if citus != nil {
				return writePlacements(w, names, placements)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			if flags.stats {
				fmt.Fprintln(tw, "NAME\tSIZE\tTABLES\tROWS\tLAST APPLY\tDOMAINS")
			} else {
				fmt.Fprintln(tw, "NAME\tDOMAINS")
			}
			for _, t := range tenants {
				fmt.Fprint(tw, t.Name, "\t")
				if st := t.Stats; st != nil {
					applied := "-"
					if st.AppliedAt != nil {
						applied = st.AppliedAt.UTC().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t", byteSize(st.SizeBytes), st.Tables, st.EstimatedRows, applied)
				}
				fmt.Fprintln(tw, domainsText(t.Domains))
			}
			return tw.Flush()
		})
	})
}

// domainsText lists domains on one line: "acme.test (primary), shared.test/acme (redirects)".
func domainsText(ds []schemaset.Domain) string {
	if len(ds) == 0 {
		return "-"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
		switch {
		case d.Primary:
			parts[i] += " (primary)"
		case d.RedirectToPrimary:
			parts[i] += " (redirects)"
		}
	}
	return strings.Join(parts, ", ")
}

// byteSize prints n bytes in binary units, as PostgreSQL's pg_size_pretty does: "8192 bytes",
// "24 kB", "1.5 MB".
func byteSize(n int64) string {
	if n < 10*1024 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	f := float64(n) / 1024
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		if f < 1024 || unit == "TB" {
			if f < 10 {
				return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
			}
			return strconv.FormatFloat(f, 'f', 0, 64) + " " + unit
		}
		f /= 1024
	}
	return ""
}
