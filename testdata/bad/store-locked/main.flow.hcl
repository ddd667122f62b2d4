# The store is held by another flow process (the test starts hold.flow.hcl
# on it first).
flow "store" {
  log "hello" { message = "hi" }
}
