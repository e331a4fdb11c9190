package schemaset_test

import (
	"errors"
	"fmt"
	"testing/fstest"

	"github.com/pgschemas/pgschemas/schemaset"
)

// A service can embed its config and its apps (with embed.FS); here an fstest.MapFS stands in.
func ExampleLoadConfig() {
	fsys := fstest.MapFS{
		"db/pgschemas.hcl": {Data: []byte(`
public {
  apps = ["shared"]
}

static "www" {
  apps    = ["auth", "main"]
  domains = ["mydomain.com"]
}

dynamic {
  apps            = ["auth", "tenant"]
  clone_reference = "sample"
}
`)},
		"db/apps/shared/plans.sql": {},
		"db/apps/auth/users.hcl":   {},
		"db/apps/main/pages.sql":   {},
		"db/apps/tenant/notes.sql": {},
	}
	c, err := schemaset.LoadConfig(fsys, "db/pgschemas.hcl")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("apps in", c.AppsRoot())
	fmt.Println("public:", c.Public.Apps)
	for _, s := range c.Static {
		fmt.Printf("static %s: %v on %v\n", s.Name, s.Apps, s.Domains)
	}
	fmt.Println("dynamic:", c.Dynamic.Apps, "reference:", c.Reference())
	// Output:
	// apps in db/apps
	// public: [shared]
	// static www: [auth main] on [mydomain.com]
	// dynamic: [auth tenant] reference: sample
}

// Every problem is reported, with its position; errors.Is tells them apart.
func ExampleConfigError() {
	fsys := fstest.MapFS{
		"pgschemas.hcl": {Data: []byte(`public {
  apps = ["shared"]
}

static "www" {
  apps = ["auth"]
}

static "WWW" {
  domains = ["https://mydomain.com"]
}
`)},
		"apps/shared/plans.sql": {},
	}
	_, err := schemaset.LoadConfig(fsys, "pgschemas.hcl")
	fmt.Println(err)
	fmt.Println(errors.Is(err, schemaset.ErrUnknownApp), errors.Is(err, schemaset.ErrDuplicateDomain))
	// Output:
	// pgschemas.hcl:6,11: static "www": apps[0]: app "auth" does not exist: no folder apps/auth
	// pgschemas.hcl:9,8: static "WWW": name clashes with static "www" (names are compared ignoring case)
	// pgschemas.hcl:10,14: static "WWW": domains[0]: domain "https://mydomain.com": has a scheme: write the host name only
	// true false
}
