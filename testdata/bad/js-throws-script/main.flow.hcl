# A script step that throws.
flow "js" {
  script "s" {
    code = <<-JS
      const parts = "a,b".split(",");
      return { third: parts[2].toUpperCase() };
    JS
  }
}
