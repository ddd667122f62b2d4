# A call whose path is computed at run time names no file.
flow "caller" {
  param "which" { default = "nowhere" }
  call "child" { flow = "${param.which}.flow.hcl" }
}
