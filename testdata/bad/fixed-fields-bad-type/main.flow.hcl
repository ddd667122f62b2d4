# A fields list whose field has a type that does not exist.
flow "fixed" {
  batch "load" {
    reader "fixed" {
      path = "in.dat"
      body {
        fields = [
          { name = "id",     length = 4, type = "int", pad = "0" },
          { name = "amount", length = 8, type = "money", scale = 2 },
        ]
      }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
