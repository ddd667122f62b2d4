# Mistake: an output block on a leaf step (only the flow and composite steps declare outputs).
flow "demo" {
  exec "list" {
    command = ["ls"]
    output "files" {
      value = "x"
    }
  }
}
