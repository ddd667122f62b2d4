# A row with a field too many.
flow "extra" {
  batch "load" {
    reader "csv" { path = "in.csv" }
    writer "jsonl" { path = "out/out.jsonl" }
  }
}
