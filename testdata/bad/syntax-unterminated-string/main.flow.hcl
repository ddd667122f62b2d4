# A string that is never closed.
flow "strings" {
  log "hello" { message = "hi }
}
