# Mistake: two calls to the same missing flow file; each call is reported at its own position.
flow "demo" {
  call "first" {
    flow = "no_such_child.flow.hcl"
  }
  call "second" {
    flow = "no_such_child.flow.hcl"
  }
}
