# Mistake: a reference to an unknown root variable (foo.bar).
flow "demo" {
  log "hello" {
    message = foo.bar
  }
}
