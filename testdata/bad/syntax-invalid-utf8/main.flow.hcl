# A flow file saved in Latin-1: the string holds the byte 0xE9.
flow "latin1" {
  log "hello" { message = "café" }
}
