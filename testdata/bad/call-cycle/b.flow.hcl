# b calls a back.
flow "b" {
  call "a" { flow = "a.flow.hcl" }
}
