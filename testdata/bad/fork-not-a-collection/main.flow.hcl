# A fork over a value that is not a collection.
flow "fork" {
  param "items" {
    type    = any
    default = "abc"
  }
  fork "each" {
    for_each = param.items
    log "one" { message = "${each.value}" }
  }
}
