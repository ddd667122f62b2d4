# Mistake: a loop with neither while nor until.
flow "demo" {
  loop "forever" {
    log "tick" { message = "tick" }
  }
}
