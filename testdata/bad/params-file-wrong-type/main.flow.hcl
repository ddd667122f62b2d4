# The params file gives a string to a number param.
flow "params" {
  param "count" { type = number }
  log "hello" { message = "count ${param.count}" }
}
