# Mistake: a param declared twice.
flow "demo" {
  param "date" { type = string }
  param "date" { type = string }
  log "d" { message = param.date }
}
