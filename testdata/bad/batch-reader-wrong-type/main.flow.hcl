# Reader attributes of the wrong type.
flow "batch" {
  batch "load" {
    reader "csv" {
      path      = "in.csv"
      header    = "yes"
      skip_rows = "two"
    }
    writer "csv" { path = "out.csv" }
  }
}
