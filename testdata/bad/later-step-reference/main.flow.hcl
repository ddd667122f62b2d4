# A reference to a step that has not run yet.
flow "order" {
  log "first" { message = "${step.second.stdout}" }
  exec "second" { command = ["echo", "hi"] }
}
