# each.value outside a fork.
flow "each" {
  log "hello" { message = "${each.value}" }
}
