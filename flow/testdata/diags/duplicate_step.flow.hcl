# Mistake: two sibling steps share a name.
flow "demo" {
  log "hello" { message = "one" }
  log "hello" { message = "two" }
}
