# Mistake: two steps in different branches of one choose share a name
# (branches share their parent's namespace, so step paths stay unambiguous).
flow "demo" {
  param "n" {
    type    = number
    default = 1
  }
  choose "pick" {
    when {
      condition = param.n > 0
      log "report" { message = "positive" }
    }
    otherwise {
      log "report" { message = "not positive" }
    }
  }
}
