# An attribute without its value.
flow "missing" {
  sleep "nap" {
    duration =
  }
}
