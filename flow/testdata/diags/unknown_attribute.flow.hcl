# Mistake: an unknown attribute on a step (a typo; the message suggests the right name).
flow "demo" {
  exec "list" {
    comand = ["ls", "-l"]
  }
}
