# A flow that calls itself.
flow "me" {
  call "again" { flow = "main.flow.hcl" }
}
