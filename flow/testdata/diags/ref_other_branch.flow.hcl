# Mistake: a reference to a step inside another branch of the same choose.
flow "demo" {
  param "n" {
    type    = number
    default = 1
  }
  choose "pick" {
    when {
      condition = param.n > 0
      exec "pos" { command = ["echo", "positive"] }
    }
    otherwise {
      log "neg" { message = step.pos.stdout }
    }
  }
}
