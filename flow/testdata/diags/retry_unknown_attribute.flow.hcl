# Mistake: an unknown attribute in a retry block (a typo; the message suggests the right name).
flow "demo" {
  exec "fetch" {
    command = ["curl", "https://example.com"]
    retry {
      max_attempt = 5
    }
  }
}
