# A string where a number is expected.
flow "types" {
  batch "load" {
    chunk_size = "a thousand"
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "out.csv" }
  }
}
