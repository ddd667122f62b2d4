# Holds the store while the case runs.
flow "hold" {
  sleep "long" { duration = "10m" }
}
