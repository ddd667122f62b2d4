# Mistake: a value outside the allowed set (log level).
flow "demo" {
  log "shout" {
    message = "hello"
    level   = "loud"
  }
}
