# Mistake: a reference to a later sibling, which has not run yet.
flow "demo" {
  log "first" {
    message = step.second.stdout
  }
  exec "second" { command = ["date"] }
}
