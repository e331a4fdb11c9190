package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

// jsonRename is the --json data of tenant rename.
type jsonRename struct {
	OldName string `json:"old_name"`
	Name    string `json:"name"`
}

func (a *app) tenantRenameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rename OLD NEW",
		Short: "Rename a dynamic tenant: its schema, row, domains, role and records",
		Long: `rename renames the dynamic tenant OLD to NEW in one transaction: its schema (tables and rows stay as they
are), its row, its domains, its records and, in strict mode, its role. NEW follows the rules of "tenant
create", unique ignoring case. Static tenants, the reference and public are refused. A public table
whose foreign key references the tenant without ON UPDATE CASCADE refuses it, and nothing changes.
SQL text that names OLD explicitly, such as a function body, is not rewritten. The routers of every
process see the new name within a second.`,
		Example: `  schemaset tenant rename acme acme_corp`,
		Args:    exactArgs("OLD", "NEW"),
		RunE: runE(func(ctx context.Context, args []string) error {
			return a.runTenantRename(ctx, args[0], args[1])
		}),
	}
}

func (a *app) runTenantRename(ctx context.Context, old, new string) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		if err := eng.RenameTenant(ctx, old, new); err != nil {
			return err
		}
		return a.emit(jsonRename{old, new}, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "renamed tenant %q to %q\n", old, new)
			return err
		})
	})
}
