# Mistake: a call to a function that does not exist (a typo; the message suggests the right name).
flow "demo" {
  log "shout" {
    message = uper("hello")
  }
}
