# a calls b, which calls a.
flow "a" {
  call "b" { flow = "b.flow.hcl" }
}
