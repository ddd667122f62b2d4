# Mistake: a timeout decorator whose value is not a duration.
flow "demo" {
  exec "slow" {
    command = ["sleep", "10"]
    timeout = "forever"
  }
}
