# Mistake: a duration that is not Go duration syntax.
flow "demo" {
  sleep "pause" {
    duration = "5 minutes"
  }
}
