# Mistake: a reference to a variable that no vars or set declares.
flow "demo" {
  vars = { total = 0 }
  log "sum" {
    message = "total ${var.totl}"
  }
}
