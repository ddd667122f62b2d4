# A row with a field missing, and no skip policy: the step fails at the
# row; the output keeps the chunk committed before it.
flow "ragged" {
  batch "load" {
    chunk_size = 2
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "out/out.csv" }
  }
}
