# A writer filter that is not a JavaScript expression.
flow "js" {
  batch "load" {
    reader "csv" { path = "in.csv" }
    writer "csv" {
      path   = "out/out.csv"
      filter = "item.a >"
    }
  }
}
