# Mistake: a call cycle: a calls b, which calls a again.
flow "a" {
  call "to_b" {
    flow = "b.flow.hcl"
  }
}
