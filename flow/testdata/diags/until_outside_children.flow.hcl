# Mistake: a loop's while refers to a step of its body, which has not run when while is checked
# (until, checked after each iteration, may).
flow "demo" {
  loop "poll" {
    while = step.check.exit_code != 0
    exec "check" { command = ["true"] }
  }
}
