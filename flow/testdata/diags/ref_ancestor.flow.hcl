# Mistake: a step that refers to the outputs of a step that encloses it.
flow "demo" {
  sequential "outer" {
    log "inner" {
      message = "${step.outer.anything}"
    }
  }
}
