# A script step whose JavaScript does not compile.
flow "js" {
  script "s" {
    code = <<-JS
      const a = 1;
      return { a: a + };
    JS
  }
}
