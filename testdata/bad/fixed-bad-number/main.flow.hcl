# A fixed-width int field holding letters.
flow "fixed" {
  batch "load" {
    reader "fixed" {
      path             = "in.dat"
      record_separator = "\n"
      body {
        field "id" {
          length = 4
          type   = "int"
        }
        field "name" { length = 6 }
      }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
