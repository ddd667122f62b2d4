# A call to a file that does not exist.
flow "caller" {
  call "child" { flow = "lib/child.flow.hcl" }
}
