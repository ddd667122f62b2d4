# Mistake: a choose with no when block.
flow "demo" {
  choose "pick" {
    otherwise {
      log "default" { message = "default" }
    }
  }
}
