# Breaks one rule a line; want.txt lists what LoadConfigFile reports.
extra_search_paths = ["Blog"]

public {
  apps = ["shared", "billing"]
}

static "www" {
  apps    = ["auth", "main"]
  domains = ["www.example.test", "http://blog.example.test"]
}

static "blog" {
  apps             = ["auth"]
  fallback_domains = ["WWW.example.test"]
}

static "Blog" {
  domans = []
}

dynamic {
  apps            = ["auth", "auth"]
  clone_reference = "pgschemas_sample"
}
