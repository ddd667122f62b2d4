# Mistake: a param default that refers to another param (defaults are constants).
flow "demo" {
  param "start" {
    type    = string
    default = "2026-01-01"
  }
  param "end" {
    type    = string
    default = param.start
  }
  log "range" { message = "${param.start}..${param.end}" }
}
