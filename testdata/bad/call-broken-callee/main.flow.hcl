# A call to a flow file with a mistake in it.
flow "caller" {
  call "child" { flow = "child.flow.hcl" }
}
