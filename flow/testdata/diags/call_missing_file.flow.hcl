# Mistake: a call to a flow file that does not exist.
flow "demo" {
  call "child" {
    flow = "no_such_child.flow.hcl"
  }
}
