flow "fanout" {
  description = <<-EOT
    Counts the lines of every file in data/ concurrently (a fork over
    fileset, at most two at a time), adds the counts up in a loop, and
    chooses a verdict on the total.
  EOT

  param "pattern" {
    type        = string
    default     = "*.txt"
    description = "Which files of data/ to count."
  }
  param "max_lines" {
    type        = number
    default     = 10
    description = "More lines than this in all makes the verdict \"large\"."
  }

  vars = {
    files   = fileset("data", param.pattern)
    total   = 0
    verdict = ""
  }

  # One iteration per file, each in its own scope; results keeps them in
  # input order.
  fork "count" {
    for_each        = var.files
    max_concurrency = 2

    exec "wc" {
      command = ["wc", "-l", each.value]
      dir     = "data"
    }
  }

  # Adds the counts up: the loop body updates the flow's var.total.
  loop "sum" {
    while = loop.index < length(step.count.results)

    set "add" {
      assign = { total = var.total + tonumber(regex("[0-9]+", step.count.results[loop.index].wc.stdout)) }
    }
  }

  choose "verdict" {
    when {
      condition = var.total > param.max_lines
      set "large" {
        assign = { verdict = "large" }
      }
      log "warn" {
        level   = "warn"
        message = "${var.total} lines in ${length(var.files)} files: more than ${param.max_lines}"
      }
    }
    otherwise {
      set "small" {
        assign = { verdict = "small" }
      }
      log "ok" {
        message = "${var.total} lines in ${length(var.files)} files"
      }
    }
  }

  output "lines" {
    value = zipmap(var.files, [for r in step.count.results : tonumber(regex("[0-9]+", r.wc.stdout))])
  }
  output "total" {
    value = var.total
  }
  output "verdict" {
    value = var.verdict
  }
}
