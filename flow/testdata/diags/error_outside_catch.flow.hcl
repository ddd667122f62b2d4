# Mistake: error.* used outside catch (and outside retry's if).
flow "demo" {
  exec "run" { command = ["false"] }
  log "why" {
    message = "failed: ${error.message}"
  }
}
