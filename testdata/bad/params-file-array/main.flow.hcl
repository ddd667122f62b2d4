# The params file holds an array, not an object.
flow "params" {
  param "day" { default = "2026-11-20" }
  log "hello" { message = "day ${param.day}" }
}
