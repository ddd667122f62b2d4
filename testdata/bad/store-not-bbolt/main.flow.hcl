# The store file is not a bbolt file.
flow "store" {
  log "hello" { message = "hi" }
}
