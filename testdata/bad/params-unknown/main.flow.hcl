# -p names a param that is not declared.
flow "params" {
  param "count" {
    type    = number
    default = 1
  }
  log "hello" { message = "count ${param.count}" }
}
