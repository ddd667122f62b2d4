# A reference to a param that is not declared.
flow "params" {
  param "day" { default = "2026-11-20" }
  log "hello" { message = "day ${param.dya}" }
}
