# Mistake: two steps in one catch block share a name.
flow "demo" {
  exec "run" {
    command = ["false"]
    catch {
      log "note" { message = error.message }
      log "note" { message = "again" }
    }
  }
}
