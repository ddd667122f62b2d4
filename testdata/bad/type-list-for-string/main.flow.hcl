# A list where a string is expected.
flow "types" {
  log "hello" { message = ["a", "b"] }
}
