# The sample set that the tests, the README and the demo use.
apps_dir = "apps"

public {
  apps = ["shared"]
}

static "www" {
  apps    = ["auth", "main"]
  domains = ["localhost", "www.example.test"]
}

static "blog" {
  apps    = ["auth", "blog"]
  domains = ["blog.example.test", "help.example.test"]
}

dynamic {
  apps            = ["auth", "tenant"]
  clone_reference = "sample"
}
