# Part of the call cycle of a.flow.hcl: b calls a.
flow "b" {
  call "to_a" {
    flow = "a.flow.hcl"
  }
}
