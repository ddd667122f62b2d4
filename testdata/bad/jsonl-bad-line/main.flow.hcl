# A line that is not JSON.
flow "jsonl" {
  batch "load" {
    reader "jsonl" { path = "in.jsonl" }
    writer "csv" { path = "out/out.csv" }
  }
}
