# Two steps with one name in one scope.
flow "dup" {
  log "hello" { message = "one" }
  log "hello" { message = "two" }
}
