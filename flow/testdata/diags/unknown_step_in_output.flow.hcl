# Mistake: a flow output that refers to a step that does not exist.
flow "demo" {
  log "hello" { message = "hello" }
  output "greeting" { value = step.helo.message }
}
