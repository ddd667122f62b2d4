# A misspelt attribute.
flow "attrs" {
  log "hello" { mesage = "hi" }
}
