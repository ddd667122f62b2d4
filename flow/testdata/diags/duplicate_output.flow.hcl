# Mistake: two outputs of one flow share a name.
flow "demo" {
  log "hello" { message = "hello" }
  output "greeting" { value = step.hello.message }
  output "greeting" { value = "hi" }
}
