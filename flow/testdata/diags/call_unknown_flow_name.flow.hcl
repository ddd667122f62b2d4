# Mistake: a call naming a flow that the called file does not hold.
flow "demo" {
  call "child" {
    flow = "lib/child.flow.hcl"
    name = "nope"
  }
}
