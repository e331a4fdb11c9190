# Lists an app, but there is no apps folder next to this file.
public {
  apps = ["shared"]
}
