# Mistake: a value outside the allowed set (retry strategy).
flow "demo" {
  exec "fetch" {
    command = ["curl", "https://example.com"]
    retry {
      strategy = "fibonacci"
    }
  }
}
