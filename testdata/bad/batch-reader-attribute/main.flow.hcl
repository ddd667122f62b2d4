# A misspelt reader attribute.
flow "batch" {
  batch "load" {
    reader "csv" { pth = "in.csv" }
    writer "csv" { path = "out.csv" }
  }
}
