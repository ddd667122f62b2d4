# Mistake: a step name that is not a valid identifier.
flow "demo" {
  log "say hello" {
    message = "hello"
  }
}
