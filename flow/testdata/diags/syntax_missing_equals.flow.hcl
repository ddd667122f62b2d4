# Mistake: an HCL syntax error (an argument without its equals sign).
flow "demo" {
  log "hello" {
    message "hello"
  }
}
