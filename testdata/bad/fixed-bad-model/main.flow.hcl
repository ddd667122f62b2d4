# A record length that does not add up, and a trailer sum of a field
# that does not exist.
flow "fixed" {
  batch "load" {
    reader "fixed" {
      path = "in.dat"
      body {
        length = 12
        field "id" {
          length = 4
          type   = "int"
        }
        field "amount" {
          length = 9
          type   = "decimal"
          scale  = 2
        }
      }
    }
    writer "fixed" "copy" {
      path = "out/copy.dat"
      body {
        field "id" { length = 4 }
      }
      trailer {
        fields = [{ name = "total", length = 12, type = "decimal", sum_of = "amount" }]
      }
    }
  }
}
