# Loads clean: apps in a nested folder, an extra search path, no dynamic block.
apps_dir           = "db/apps"
extra_search_paths = ["extensions"]

public {
  apps = ["shared"]
}

static "www" {
  apps             = ["site"]
  domains          = ["mydomain.test"]
  fallback_domains = []
}

static "blog" {
  apps    = ["site", "blog"]
  domains = ["blog.mydomain.test", "help.mydomain.test"]
}
