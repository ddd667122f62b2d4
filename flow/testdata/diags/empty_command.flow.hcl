# Mistake: an exec with an empty command list.
flow "demo" {
  exec "nothing" {
    command = []
  }
}
