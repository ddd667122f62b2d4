# The trailer's record count disagrees with the file.
flow "fixed" {
  batch "load" {
    reader "fixed" {
      path             = "in.dat"
      record_separator = "\n"
      body {
        field "tag" {
          length = 1
          value  = "D"
        }
        field "id" { length = 4 }
      }
      trailer {
        fields = [
          { name = "tag", length = 1, value = "T" },
          { name = "count", length = 4, type = "int", pad = "0", check = "count" },
        ]
      }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
