package apps_test

import (
	"fmt"
	"os"

	"github.com/pgschemas/pgschemas/apps"
)

func ExampleLoad() {
	reg, err := apps.Load(os.DirFS("../testdata"), "apps")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range reg.Names() {
		a, _ := reg.App(name)
		fmt.Println(name, a.Files[0].Path, a.Files[0].Kind)
	}
	// Output:
	// auth auth/users.hcl HCL
	// blog blog/posts.sql SQL
	// main main/pages.sql SQL
	// shared shared/plans.sql SQL
	// tenant tenant/notes.sql SQL
}
