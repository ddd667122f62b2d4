# The params file is cut short.
flow "params" {
  param "count" { type = number }
  log "hello" { message = "count ${param.count}" }
}
