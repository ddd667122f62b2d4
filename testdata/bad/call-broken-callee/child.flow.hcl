# The mistake is here.
flow "child" {
  log "x" { message = param.missing }
}
