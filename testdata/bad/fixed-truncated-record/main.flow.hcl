# The last record of a fixed-width file is cut short.
flow "fixed" {
  batch "load" {
    reader "fixed" {
      path             = "in.dat"
      record_separator = ""
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
