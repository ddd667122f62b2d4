flow "graph" {
  description = "A flow with one of each kind of step, for the graph golden files."

  param "items" {
    type    = list(string)
    default = ["a", "b"]
  }

  log "start" {
    message = "starting"
  }

  parallel "both" {
    exec "left" {
      command = ["true"]
    }
    sequential "right" {
      sleep "pause" {
        duration = "1ms"
      }
      set "mark" {
        assign = { marked = true }
      }
    }
  }

  fork "each" {
    for_each        = param.items
    max_concurrency = 2

    exec "work" {
      command = ["echo", each.value]
      retry {
        max_attempts = 2
      }
      catch {
        log "recover" {
          message = error.message
        }
      }
    }
  }

  loop "poll" {
    until          = loop.index >= 2
    max_iterations = 5

    log "tick" {
      message = "tick"
    }
  }

  choose "route" {
    when {
      condition = length(param.items) > 1
      log "many" {
        message = "many"
      }
    }
    otherwise {
      fail "none" {
        message = "no items"
      }
    }
  }
}
