# Mistake: each.* used outside a fork.
flow "demo" {
  log "item" {
    message = "item ${each.value}"
  }
}
