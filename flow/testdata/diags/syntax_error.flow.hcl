# Mistake: an HCL syntax error (an unclosed string).
flow "broken" {
  log "hello" {
    message = "hello
  }
}
