# Mistake: a reference to an undeclared param (a typo; the message suggests the right name).
flow "demo" {
  param "biz_date" {
    type    = string
    default = "2026-01-01"
  }
  log "date" {
    message = "date ${param.biz_dat}"
  }
}
