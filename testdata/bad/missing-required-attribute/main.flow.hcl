# An exec step without its command.
flow "required" {
  exec "run" {}
}
