flow "hello" {
  description = "Greets someone, counts to three, and greets a few friends at once."

  param "name" {
    type    = string
    default = "world"
  }

  vars = { greeting = "Hello" }

  log "greet" {
    message = "${var.greeting}, ${param.name}!"
  }

  loop "count" {
    vars  = { n = 0 }
    while = var.n < 3

    set "next" {
      assign = { n = var.n + 1 }
    }
    log "tick" {
      message = "tick ${var.n} (iteration ${loop.index})"
    }
  }

  fork "friends" {
    for_each        = ["ada", "grace", "linus"]
    max_concurrency = 2

    exec "echo" {
      command = ["echo", "hi ${each.value}"]
    }
  }

  output "greeting" {
    value = step.greet.message
  }
  output "ticks" {
    value = step.count.iterations
  }
  output "replies" {
    value = [for r in step.friends.results : trimspace(r.echo.stdout)]
  }
}
