# A block that is never closed.
flow "unclosed" {
  log "hello" {
    message = "hi"

  log "bye" { message = "bye" }
}
