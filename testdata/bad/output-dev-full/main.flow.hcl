# The output is /dev/full: every write fails with "no space left on
# device".
flow "full" {
  batch "load" {
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "/dev/full" }
  }
}
