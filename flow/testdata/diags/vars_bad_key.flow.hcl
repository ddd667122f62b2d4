# Mistake: a vars key that is not a plain name.
flow "demo" {
  vars = { "total count" = 0 }
  log "hello" { message = "hello" }
}
