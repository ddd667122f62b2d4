# A field that does not parse as its schema type.
flow "typed" {
  batch "load" {
    chunk_size = 1
    reader "csv" {
      path   = "in.csv"
      schema = { amount = "decimal" }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
