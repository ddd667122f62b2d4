# A misspelt schema field type, found by flow validate.
flow "payments" {
  param "in" {
    type    = string
    default = "in.jsonl"
  }

  batch "load" {
    reader "jsonl" {
      path   = param.in
      schema = { id = "int", amount = "decmal" }
    }
    writer "csv" { path = "out/out.csv" }
  }
}
