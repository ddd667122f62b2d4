flow "retry" {
  description = <<-EOT
    Calls a flaky command that fails a few times before it succeeds, with
    retry, catch and finally: the first call is retried until it works, the
    second never works and is caught, and a finally block removes the
    scratch directory whatever happened.
  EOT

  param "failures" {
    type        = number
    default     = 2
    description = "How many calls of the flaky command fail before one succeeds (4 or more fails the flow)."
  }

  vars = { recovered = "" }

  # A scratch directory for the call counters; removed by work's finally.
  exec "scratch" {
    command = ["mktemp", "-d"]
  }
  set "dir" {
    assign = { dir = trimspace(step.scratch.stdout) }
  }

  sequential "work" {
    # Fails param.failures times, then succeeds: up to 4 attempts with a
    # short, constant wait (the defaults are 3 attempts, exponential from
    # 1s). With -p failures=4 or more it fails the flow, and the finally
    # block below still removes the scratch directory.
    exec "flaky" {
      command = ["./flaky.sh", "${var.dir}/flaky.count", tostring(param.failures)]
      retry {
        max_attempts = 4
        strategy     = "constant"
        min_interval = "50ms"
      }
    }

    # Never succeeds within its two attempts: catch records the error in
    # the flow's variable recovered, and the flow goes on.
    exec "hopeless" {
      command = ["./flaky.sh", "${var.dir}/hopeless.count", "1000"]
      retry {
        max_attempts = 2
        strategy     = "constant"
        min_interval = "50ms"
        if           = error.kind == "exit"
      }
      catch {
        set "note" {
          assign = { recovered = "${error.step}: ${error.message}" }
        }
        log "warn" {
          level   = "warn"
          message = "giving up on hopeless: ${error.message}"
        }
      }
    }

    finally {
      exec "cleanup" {
        command = ["rm", "-rf", var.dir]
      }
    }

    output "flaky" {
      value = trimspace(step.flaky.stdout)
    }
  }

  output "flaky" {
    value = step.work.flaky
  }
  output "recovered" {
    value = var.recovered
  }
  output "scratch" {
    value = var.dir
  }
}
