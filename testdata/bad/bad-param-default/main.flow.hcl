# A param default of the wrong type.
flow "params" {
  param "count" {
    type    = number
    default = "many"
  }
  log "hello" { message = "${param.count}" }
}
