# A variable that no enclosing scope declares.
flow "vars" {
  vars = { count = 1 }
  log "hello" { message = "${var.cuont}" }
}
