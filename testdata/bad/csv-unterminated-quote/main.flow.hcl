# A quoted field that never ends.
flow "quote" {
  batch "load" {
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "out/out.csv" }
  }
}
