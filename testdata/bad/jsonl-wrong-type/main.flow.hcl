# A member of the wrong type for the schema.
flow "jsonl" {
  batch "load" {
    reader "jsonl" {
      path   = "in.jsonl"
      schema = { id = "int" }
    }
    writer "jsonl" { path = "out/out.jsonl" }
  }
}
