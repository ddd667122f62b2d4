# Mistake: a param default that does not fit the param's type.
flow "demo" {
  param "count" {
    type    = number
    default = "ten"
  }
  log "c" { message = "${param.count}" }
}
