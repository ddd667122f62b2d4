# Mistake: a fork's for_each refers to each.*, which only its children see.
flow "demo" {
  fork "items" {
    for_each = each.value
    log "x" { message = "x" }
  }
}
