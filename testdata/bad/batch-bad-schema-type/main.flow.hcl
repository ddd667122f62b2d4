# A schema field type that does not exist.
flow "batch" {
  batch "load" {
    reader "csv" {
      path   = "in.csv"
      schema = { amount = "money" }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
