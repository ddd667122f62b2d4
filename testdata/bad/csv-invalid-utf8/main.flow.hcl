# A file in Latin-1: "Müller" holds the byte 0xFC, not UTF-8.
flow "latin1" {
  batch "load" {
    reader "csv" { path = "in.csv" }
    writer "jsonl" { path = "out/out.jsonl" }
  }
}
