# Mistake: a reference to a step nested inside another step (only the
# parent's output blocks can see it).
flow "demo" {
  sequential "prepare" {
    exec "list" { command = ["ls"] }
  }
  log "out" {
    message = step.list.stdout
  }
}
