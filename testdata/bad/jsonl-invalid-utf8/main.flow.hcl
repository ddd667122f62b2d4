# A JSON line with a Latin-1 byte (0xF6 in "Köln").
flow "jsonl" {
  batch "load" {
    reader "jsonl" { path = "in.jsonl" }
    writer "jsonl" { path = "out/out.jsonl" }
  }
}
