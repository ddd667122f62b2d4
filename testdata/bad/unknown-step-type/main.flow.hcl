# A step type that does not exist.
flow "types" {
  shell "run" { command = "ls" }
}
