# Mistake: two retry blocks on one step.
flow "demo" {
  exec "fetch" {
    command = ["curl", "https://example.com"]
    retry { max_attempts = 3 }
    retry { max_attempts = 5 }
  }
}
