# Mistake: an unknown block inside a flow (a misspelt step type).
flow "demo" {
  logg "hello" {
    message = "hello"
  }
}
