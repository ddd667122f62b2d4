# More bad rows than the skip policy allows.
flow "skips" {
  batch "load" {
    chunk_size = 2
    skip {
      limit = 1
      log   = "out/skipped.jsonl"
    }
    reader "csv" {
      path   = "in.csv"
      schema = { id = "int" }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
