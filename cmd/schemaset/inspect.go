package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgschemas/pgschemas/schemaset"
)

// inspectFlags are the flags of inspect.
type inspectFlags struct {
	schema string
	out    string
}

// The files of an app that inspect --out writes.
const (
	inspectHCLFile = "schema.hcl"
	inspectSQLFile = "views_functions.sql"
)

func (a *app) inspectCmd() *cobra.Command {
	var flags inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect -s SCHEMA [--out DIR]",
		Short: "Write a live schema as an app",
		Long: `inspect reads one schema from the database and writes it as an app, without the engine's own
objects: its tables, with their columns, keys, indexes, checks and foreign keys (those to public
written as table.public.NAME), and its enums, as Atlas HCL; and its views and functions, as SQL.
Neither names the schema. Given to the schema in pgschemas.hcl instead of its apps, the app loads
back as the same schema: apply then changes nothing. This holds for public too, and for a schema
whose tables reference public's. SCHEMA is a schema of the set, a domain[/folder] of a tenant, or
any other schema of the database.

With --out DIR, inspect writes the app's folder: DIR/schema.hcl, and DIR/views_functions.sql when
the schema has views or functions (each CREATE after what it depends on). Without --out, it prints
the HCL, and the views and functions, which HCL cannot hold, each get a warning on stderr that
names --out. With --json, the envelope holds both ("hcl" and "sql").

Materialized views, procedures, aggregates, triggers and domains are not in the app (the engine does
not manage them): each is named in a warning on stderr (and in "unmanaged" with --json), and an apply
neither creates nor drops them.`,
		Example: `  schemaset inspect -s sample --out apps/tenant
  schemaset inspect -s sample > apps/tenant/schema.hcl
  schemaset inspect -s acme.example.com
  schemaset inspect -s sample --json`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, _ []string) error {
			return a.runInspect(ctx, flags)
		}),
	}
	cmd.Flags().StringVarP(&flags.schema, "schema", "s", "", "the schema, or a domain[/folder] of a tenant")
	cmd.Flags().StringVar(&flags.out, "out", "", "write the app into this folder (created if missing) instead of printing its HCL")
	_ = cmd.MarkFlagRequired("schema")
	return cmd
}

func (a *app) runInspect(ctx context.Context, flags inspectFlags) error {
	return a.withEngine(ctx, 0, func(eng *schemaset.Engine) error {
		name := flags.schema
		targets, err := eng.Select(ctx, schemaset.Selector{Schemas: []string{name}})
		switch {
		case err == nil && len(targets) == 1:
			name = targets[0].Schema
		case err != nil && !errors.Is(err, schemaset.ErrUnknownSchema):
			return err
		}
		hcl, err := eng.InspectHCL(ctx, name)
		if err != nil {
			return err
		}
		sqlText, err := eng.InspectSQL(ctx, name)
		if err != nil {
			return err
		}
		unmanaged, err := eng.Unmanaged(ctx, name)
		if err != nil {
			return err
		}
		var files []string
		if flags.out != "" {
			if files, err = writeInspected(flags.out, hcl, sqlText); err != nil {
				return err
			}
		} else if len(sqlText) > 0 && !a.json {
			fmt.Fprintf(a.stderr, "warning: the views and functions of %q are not in the HCL printed: write the app with --out DIR to have them in %s\n",
				name, inspectSQLFile)
		}
		for _, u := range unmanaged {
			fmt.Fprintf(a.stderr, "warning: %s of %q is not in the app: an app holds tables, enums, views and functions, which the engine manages; an apply leaves the %s as it is\n",
				u, name, strings.Fields(u)[0])
		}
		return a.emit(struct {
			Schema    string   `json:"schema"`
			HCL       string   `json:"hcl"`
			SQL       string   `json:"sql"`
			Files     []string `json:"files,omitempty"`
			Unmanaged []string `json:"unmanaged"`
		}{name, string(hcl), string(sqlText), files, append([]string{}, unmanaged...)}, func(w io.Writer) error {
			if flags.out != "" {
				_, err := fmt.Fprintf(w, "inspect: wrote %s\n", strings.Join(files, ", "))
				return err
			}
			_, err := w.Write(hcl)
			return err
		})
	})
}

// writeInspected writes an inspected app into dir and returns the files written. A views and
// functions file left by an earlier inspect is removed when the schema has none any more.
func writeInspected(dir string, hcl, sqlText []byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := []string{filepath.Join(dir, inspectHCLFile)}
	if err := os.WriteFile(files[0], hcl, 0o644); err != nil {
		return nil, err
	}
	sqlPath := filepath.Join(dir, inspectSQLFile)
	if len(sqlText) == 0 {
		if err := os.Remove(sqlPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return files, nil
	}
	if err := os.WriteFile(sqlPath, sqlText, 0o644); err != nil {
		return nil, err
	}
	return append(files, sqlPath), nil
}
