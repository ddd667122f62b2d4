# A value outside the allowed set.
flow "oneof" {
  batch "load" {
    transaction_scope = "everything"
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "out.csv" }
  }
}
