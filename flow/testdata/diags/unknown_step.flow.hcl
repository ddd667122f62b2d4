# Mistake: a reference to a step that does not exist.
flow "demo" {
  exec "list" { command = ["ls"] }
  log "out" {
    message = step.lst.stdout
  }
}
