# Mistake: a param type that is not a type expression.
flow "demo" {
  param "count" {
    type = integer
  }
  log "c" { message = "${param.count}" }
}
