# A command that does not exist.
flow "cmd" {
  exec "run" { command = ["./no-such-command", "--help"] }
}
