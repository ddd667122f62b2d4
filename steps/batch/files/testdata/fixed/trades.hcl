# The file model of trades.bin: binary records with no separator. The
# header is 14 bytes, each trade 35, the trailer 12. The fields are given
# as blocks (HCL allows one attribute in a one-line block).
record_separator = ""

header {
  field "magic" {
    length = 4
    value  = "TRD1"
  }
  field "version" { codec = "uint16le" }
  field "created" { codec = "int64be" }
}

body {
  length = 35
  field "id" { codec = "int32be" }
  field "symbol" { length = 6 }
  field "qty" { codec = "int16le" }
  field "price" { codec = "float64be" }
  field "fee" {
    codec = "int32le"
    type  = "decimal"
    scale = 4
  }
  field "flag" {
    codec = "uint8"
    type  = "bool"
  }
  field "side" {
    length      = 1
    type        = "bool"
    bool_values = ["B", "S"]
  }
  field "amount" {
    codec  = "packed"
    length = 5
    type   = "decimal"
    scale  = 2
  }
  field "rate" { codec = "float32le" }
}

trailer {
  field "count" {
    codec = "uint32le"
    check = "count"
  }
  field "total" {
    codec  = "int64be"
    type   = "decimal"
    scale  = 2
    sum_of = "amount"
  }
}
