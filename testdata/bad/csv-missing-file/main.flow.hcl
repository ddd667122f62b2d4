# The input file does not exist.
flow "missing" {
  batch "load" {
    reader "csv" { path = "data/in.csv" }
    writer "csv" { path = "out/out.csv" }
  }
}
