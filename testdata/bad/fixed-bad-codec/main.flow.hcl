# A fixed-width field with a codec that does not exist.
flow "fixed" {
  batch "load" {
    reader "fixed" {
      path = "in.dat"
      record_separator = "\n"
      body {
        field "id" { codec = "int24be" }
      }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
