# Mistake: a constant of the wrong type (max_iterations wants a number).
flow "demo" {
  loop "poll" {
    while          = loop.index < 3
    max_iterations = "many"
    log "tick" { message = "tick" }
  }
}
