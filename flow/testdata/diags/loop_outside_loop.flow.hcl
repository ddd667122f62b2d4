# Mistake: loop.* used outside a loop.
flow "demo" {
  log "iteration" {
    message = "iteration ${loop.index}"
  }
}
