# A duration that does not parse.
flow "durations" {
  sleep "nap" { duration = "5 parsecs" }
}
