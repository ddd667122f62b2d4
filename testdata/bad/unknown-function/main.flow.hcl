# A function that does not exist.
flow "funcs" {
  log "hello" { message = uppercase("hi") }
}
