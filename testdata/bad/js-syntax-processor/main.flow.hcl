# A batch processor whose JavaScript does not compile.
flow "js" {
  batch "load" {
    reader "csv" { path = "in.csv" }
    processor "js" {
      code = <<-JS
        if (item.a > 1 {
          emit(item);
        }
      JS
    }
    writer "csv" { path = "out/out.csv" }
  }
}
