# A heredoc whose end marker is misspelt.
flow "heredoc" {
  script "s" {
    code = <<-JS
      return { a: 1 };
    JSS
  }
}
