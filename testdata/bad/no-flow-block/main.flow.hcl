# Steps outside any flow block.
log "hello" { message = "hi" }
