# Mistake: a reference to a parallel sibling, which may not have finished.
flow "demo" {
  parallel "both" {
    exec "a" { command = ["date"] }
    log "b" {
      message = step.a.stdout
    }
  }
}
