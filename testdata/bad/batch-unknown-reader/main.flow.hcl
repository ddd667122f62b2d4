# A reader type that does not exist.
flow "batch" {
  batch "load" {
    reader "xml" { path = "in.xml" }
    writer "csv" { path = "out.csv" }
  }
}
