# A reference to a step that does not exist.
flow "refs" {
  log "first" { message = "one" }
  log "second" { message = "${step.frist.message}" }
}
