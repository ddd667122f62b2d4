# A valid flow that call cases of testdata/diags call.
flow "child" {
  log "hi" { message = "hi" }
  output "said" { value = step.hi.message }
}
