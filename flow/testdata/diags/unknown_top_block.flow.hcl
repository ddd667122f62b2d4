# Mistake: an unknown top-level block (only flow blocks are allowed).
flow "ok" {
  log "hello" { message = "hello" }
}

workflow "other" {
}
