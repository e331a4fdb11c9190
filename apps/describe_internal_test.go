package apps

import (
	"testing"

	"ariga.io/atlas/sql/schema"
)

// The round trip names Atlas' changes in its messages; a real Atlas diff after a clean re-creation
// is rare, so the names are checked here.
func TestDescribeChange(t *testing.T) {
	tbl := schema.NewTable("deals")
	col := schema.NewColumn("amount")
	role := &schema.EnumType{T: "role"}
	for _, tc := range []struct {
		change    schema.Change
		want, key string
	}{
		{&schema.AddTable{T: tbl}, `table "deals"`, "table deals"},
		{&schema.DropTable{T: tbl}, `drop table "deals"`, ""},
		{&schema.ModifyTable{T: tbl, Changes: []schema.Change{
			&schema.ModifyColumn{From: col, To: col},
			&schema.AddIndex{I: schema.NewIndex("deals_idx")},
			&schema.DropForeignKey{F: &schema.ForeignKey{Symbol: "deals_fk"}},
			&schema.ModifyCheck{From: &schema.Check{Name: "positive"}},
			&schema.AddAttr{},
		}}, `table "deals": modify column "amount" add index "deals_idx" drop foreign key "deals_fk" modify check "positive" *schema.AddAttr`, "table deals"},
		{&schema.AddObject{O: role}, `add enum "role"`, "enum role"},
		{&schema.ModifyObject{From: role, To: role}, `modify enum "role"`, ""},
		{&schema.DropObject{O: role}, `drop enum "role"`, ""},
		{&schema.AddSchema{S: schema.New("x")}, "*schema.AddSchema", ""},
	} {
		if got := describeChange(tc.change); got != tc.want {
			t.Errorf("describeChange(%T) = %q, want %q", tc.change, got, tc.want)
		}
		if got := changeKey(tc.change); got != tc.key {
			t.Errorf("changeKey(%T) = %q, want %q", tc.change, got, tc.key)
		}
	}
}
