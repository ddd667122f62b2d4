# Mistake: a step that refers to its own outputs.
flow "demo" {
  log "echo" {
    message = "again: ${step.echo.message}"
  }
}
