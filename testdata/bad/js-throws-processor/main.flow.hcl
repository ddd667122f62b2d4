# A processor that throws on one record: the step fails at that record,
# after the chunk before it was committed.
flow "js" {
  batch "load" {
    chunk_size = 2
    reader "csv" { path = "in.csv" }
    processor "js" {
      code = <<-JS
        if (item.id === "3") {
          throw new Error("no record 3, please");
        }
        emit(item);
      JS
    }
    writer "csv" { path = "out/out.csv" }
  }
}
