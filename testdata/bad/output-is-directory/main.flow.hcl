# The output path is a directory.
flow "dir" {
  batch "load" {
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "out.csv" }
  }
}
