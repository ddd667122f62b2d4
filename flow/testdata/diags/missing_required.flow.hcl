# Mistake: a required attribute is missing (exec without command).
flow "demo" {
  exec "list" {
    dir = "/tmp"
  }
}
