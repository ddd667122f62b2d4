# A script step that returns what HCL cannot hold.
flow "js" {
  script "s" {
    code = "return { f: function () { return 1; } };"
  }
}
