flow "classify" {
  description = <<-EOT
    Runs processor "classify", a Go processor that main.go registers: this
    flow needs the classify binary built from this directory, not flow.
  EOT

  param "out" {
    type        = string
    default     = "out"
    description = "Where classified.csv goes (relative to this file)."
  }
  param "threshold" {
    type        = number
    default     = 1000
    description = "The smallest large amount."
  }

  batch "classify" {
    chunk_size = 500

    # Two malformed rows of the shared data file (a bad amount, a missing
    # field) are skipped quietly; the third has a bad ts, which is not
    # typed here, so it goes through.
    skip {
      limit = 10
      on    = ["read"]
    }

    reader "csv" {
      path   = "../data/payments.csv"
      schema = { id = "int", amount = "decimal" }
    }
    processor "classify" {
      threshold = param.threshold
    }
    writer "csv" {
      path = "${param.out}/classified.csv"
    }
  }

  output "read" {
    value = step.classify.read_count
  }
  output "skipped" {
    value = step.classify.skip_count
  }
}
