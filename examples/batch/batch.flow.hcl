flow "payments" {
  description = <<-EOT
    Converts data/payments.csv into JSON lines with typed fields (int ids,
    exact decimal amounts, timestamps), on two workers that keep the rows of
    each account in file order. The malformed rows of the file are skipped
    and logged, and a report depends on how many there were.
  EOT

  param "out" {
    type        = string
    default     = "out"
    description = "Where the outputs and the skip log go (relative to this file)."
  }
  param "max_skips" {
    type        = number
    default     = 5
    description = "How many unreadable rows may be skipped; one more fails the step."
  }

  vars = { verdict = "" }

  log "start" {
    message = "converting data/payments.csv into ${param.out}/"
  }

  batch "convert" {
    chunk_size   = 250
    concurrency  = 2
    partition_by = "account"

    # Unreadable rows (a field that does not parse as its type, a missing
    # field) are written to the log with their file:line and the reason.
    skip {
      limit = param.max_skips
      on    = ["read"]
      log   = "${param.out}/skipped.jsonl"
    }

    reader "csv" {
      path   = "data/payments.csv"
      schema = { id = "int", amount = "decimal", ts = "timestamp" }
    }

    # Every chunk goes to both writers: all fields as JSON lines, and three
    # columns as CSV.
    writer "jsonl" {
      path = "${param.out}/payments.jsonl"
    }
    writer "csv" "amounts" {
      path    = "${param.out}/amounts.csv"
      columns = ["id", "account", "amount"]
    }
  }

  choose "report" {
    when {
      condition = step.convert.skip_count > 0
      set "some_skipped" {
        assign = { verdict = "${step.convert.skip_count} malformed rows skipped" }
      }
      log "warn" {
        level   = "warn"
        message = "${var.verdict}: see ${param.out}/skipped.jsonl"
      }
    }
    otherwise {
      set "clean" {
        assign = { verdict = "all rows converted" }
      }
    }
  }

  output "read" {
    value = step.convert.read_count
  }
  output "written" {
    value = step.convert.write_count
  }
  output "skipped" {
    value = step.convert.skip_count
  }
  output "verdict" {
    value = var.verdict
  }
}
