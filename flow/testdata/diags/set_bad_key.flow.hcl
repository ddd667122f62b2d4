# Mistake: a set step whose assign key is not a plain name.
flow "demo" {
  set "s" {
    assign = { "a b" = 1 }
  }
}
