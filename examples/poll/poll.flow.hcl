flow "poll" {
  description = <<-EOT
    Waits for a file to appear: a producer writes a report after a while,
    and in parallel a loop checks for it every interval until it exists,
    giving up after max_polls checks. Then the report is read, and the
    scratch directory removed.
  EOT

  param "delay" {
    type        = string
    default     = "300ms"
    description = "How long the producer takes before it writes the report."
  }
  param "interval" {
    type        = string
    default     = "50ms"
    description = "The wait between two checks."
  }
  param "max_polls" {
    type        = number
    default     = 100
    description = "How many checks before the flow gives up (and fails)."
  }

  exec "scratch" {
    command = ["mktemp", "-d"]
  }
  set "paths" {
    assign = {
      dir    = trimspace(step.scratch.stdout)
      report = "${trimspace(step.scratch.stdout)}/report.txt"
    }
  }

  sequential "wait_for_report" {
    parallel "work" {
      # A stand-in for another system: busy for a while, then it writes the
      # report in one move, so that it never appears half-written.
      sequential "producer" {
        sleep "busy" {
          duration = param.delay
        }
        exec "write" {
          command = ["sh", "-c", "echo \"report for $2\" >\"$1.tmp\" && mv \"$1.tmp\" \"$1\"", "sh", var.report, flow.name]
        }
      }

      # Checks for the report; until sees this iteration's step outputs.
      loop "poll" {
        until          = step.check.exit_code == 0
        max_iterations = param.max_polls

        exec "check" {
          command          = ["test", "-e", var.report]
          allow_exit_codes = [1]
        }
        sleep "wait" {
          if       = step.check.exit_code != 0
          duration = param.interval
        }
      }

      output "polls" {
        value = step.poll.iterations
      }
    }

    exec "read" {
      command = ["cat", var.report]
    }

    finally {
      exec "cleanup" {
        command = ["rm", "-rf", var.dir]
      }
    }

    output "polls" {
      value = step.work.polls
    }
    output "report" {
      value = trimspace(step.read.stdout)
    }
  }

  output "polls" {
    value = step.wait_for_report.polls
  }
  output "report" {
    value = step.wait_for_report.report
  }
  output "scratch" {
    value = var.dir
  }
}
