# A batch step without a writer.
flow "batch" {
  batch "load" {
    reader "csv" { path = "in.csv" }
  }
}
