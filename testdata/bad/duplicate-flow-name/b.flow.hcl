# Two files of a directory declare the same flow.
flow "same" {
  log "b" { message = "b" }
}
