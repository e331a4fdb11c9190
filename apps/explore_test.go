package apps_test

import (
	"context"
	"testing"

	"github.com/pgschemas/pgschemas/apps"
)

func TestExplore(t *testing.T) {
	db := newDB(t)
	for _, src := range []string{
		"table \"t\" {\n  column \"id\" {\n    type = int\n    nul = true\n  }\n}\n",
		"table \"t\" {\n  schema = schema.x\n  column \"id\" {\n    type = int\n  }\n}\n",
		"schema \"x\" {}\n",
		"table \"t\" {\n  column \"id\" {\n    type = int\n  }\n  foreign_key \"f\" {\n    columns = [column.id]\n    ref_columns = [table.nope.column.id]\n  }\n}\n",
		"table \"t\" {\n  column \"id\" {\n    type = int\n  }\n  foreign_key \"f\" {\n    columns = [column.id]\n    ref_columns = [table.plans.column.id]\n  }\n}\n",
		"table \"t\" {\n  column \"id\" {\n    type = enum.nope\n  }\n}\n",
		"table \"t\" {\n  column \"id\" {\n    type = nosuchtype\n  }\n}\n",
		"table \"t\" {\n  column \"id\" {\n    type = int\n  }\n  check {\n    expr = \"idd > 0\"\n  }\n}\n",
		"table \"t\" {\n  column \"id\" {\n    type = int\n  \n}\n",
		"table \"t\" {\n  column \"id\" {\n    type = int\n  }\n}\ntable \"t\" {\n  column \"id\" {\n    type = int\n  }\n}\n",
		"table \"public\" \"t\" {\n  column \"id\" {\n    type = int\n  }\n}\n",
		"view \"v\" {\n  as = \"select 1\"\n}\n",
		"table \"t\" {\n  column \"id\" {\n    type = int\n  }\n  primary_key {\n    columns = [column.idx]\n  }\n}\n",
	} {
		tx := scratchTx(t, db, "scratch")
		a := &apps.App{Name: "x", Files: []apps.File{{Path: "x/a.hcl", Kind: apps.KindHCL, Data: []byte(src)}}}
		err := apps.Materialize(context.Background(), tx, "scratch", nil, a)
		t.Logf("%s\n   => %v", src, err)
		tx.Rollback()
	}
}
