# Mistake: a when block without its condition.
flow "demo" {
  choose "pick" {
    when {
      log "yes" { message = "yes" }
    }
  }
}
