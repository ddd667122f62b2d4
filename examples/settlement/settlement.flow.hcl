flow "settlement" {
  description = <<-EOT
    End-of-day settlement for one business date: loads the day's
    transactions from data/BIZ_DATE.csv into the ledger database (skipping
    and logging the malformed and invalid ones), settles every account in
    one database transaction, and reports totals by account and by branch.
    SQLite by default; PostgreSQL with -p driver=postgres -p dsn=... or
    LEDGER_DRIVER and LEDGER_DSN.
  EOT

  param "biz_date" {
    type        = string
    default     = "2026-11-20"
    description = "The business date to settle, YYYY-MM-DD; its transactions are in data/BIZ_DATE.csv."
  }
  param "driver" {
    type        = string
    default     = env("LEDGER_DRIVER", "sqlite")
    description = "The ledger's database: sqlite or postgres."
  }
  param "dsn" {
    type        = string
    default     = env("LEDGER_DSN", "")
    sensitive   = true
    description = "Where the ledger is; empty means OUT/ledger.db with SQLite. Required with postgres."
  }
  param "out" {
    type        = string
    default     = "out"
    description = "Where the SQLite ledger and the skip log go (relative to this file)."
  }
  param "max_skips" {
    type        = number
    default     = 10
    description = "How many bad rows may be skipped; one more fails the load."
  }

  datasource "ledger" {
    driver = param.driver
    dsn    = param.dsn != "" ? param.dsn : "${param.out}/ledger.db"
  }

  vars = { verdict = "" }

  fail "no_dsn" {
    if      = param.driver != "sqlite" && param.dsn == ""
    message = "driver ${param.driver} needs a dsn: -p dsn=... or LEDGER_DSN"
  }

  # The output directory, and a fresh skip log for this date. (A resumed
  # execution does not run this again: its skip log keeps what the
  # interrupted run logged.)
  exec "prepare" {
    command = ["sh", "-c", "mkdir -p \"$1\" && rm -f \"$1/skipped-$2.jsonl\"", "prepare", param.out, param.biz_date]
  }

  # CREATE ... IF NOT EXISTS: the schema is made on the first run and left
  # as it is on the next ones.
  sql "schema" {
    datasource = "ledger"
    statements = [file("schema.sql")]
  }

  batch "load" {
    chunk_size        = 50
    concurrency       = 2
    partition_by      = "account" # one account's rows in file order
    transaction_scope = "consume" # SQLite: workers process in parallel, take turns to write

    # A failed chunk is tried again (a busy or deadlocked database), then
    # split into single records to find the bad one.
    retry {
      max_attempts = 2
      min_interval = "100ms"
    }

    # Unreadable rows (read) and rows the processor rejects (process) are
    # written to the log with their file:line and the reason.
    skip {
      limit = param.max_skips
      on    = ["read", "process"]
      log   = "${param.out}/skipped-${param.biz_date}.jsonl"
    }

    reader "csv" {
      path   = "data/${param.biz_date}.csv"
      schema = { id = "int", booked_at = "timestamp", amount = "decimal" }
    }

    # Voided rows are filtered out (returned nothing); invalid rows throw,
    # and the skip block skips them. Cents are computed from the decimal
    # amount exactly, never through a float.
    processor "js" {
      params = { biz_date = param.biz_date, branches = ["harbour", "north", "south"] }
      code   = <<-JS
        const p = ctx.params;
        if (item.status === "void") return;
        if (!/^ACC-\d{4}$/.test(item.account)) throw new Error(`bad account "$${item.account}"`);
        if (!p.branches.includes(item.branch)) throw new Error(`unknown branch "$${item.branch}"`);
        if (item.currency !== "EUR") throw new Error(`currency $${item.currency}: the ledger settles in EUR`);
        const day = item.booked_at.toISOString().slice(0, 10);
        if (day !== p.biz_date) throw new Error(`booked on $${day}, not on $${p.biz_date}`);

        const amount = decimal.field(item, "amount");
        if (amount.sign() <= 0) throw new Error(`amount $${amount} is not positive`);
        if (amount.scale() > 2) throw new Error(`amount $${amount} has fractions of a cent`);
        let cents = amount.toCents();
        if (item.kind === "debit") cents = -cents;
        else if (item.kind !== "credit") throw new Error(`unknown kind "$${item.kind}"`);

        return {
          id:        item.id,
          biz_date:  p.biz_date,
          booked_at: item.booked_at,
          account:   item.account,
          branch:    item.branch,
          kind:      item.kind,
          cents:     cents,
        };
      JS
    }

    # An upsert on id: loading the day again writes the same rows.
    writer "sql" {
      datasource = "ledger"
      table      = "transactions"
      mode       = "upsert"
      key        = ["id"]
    }
  }

  # The day's settlement replaces the previous one of the same date, and
  # the control total must match what the load wrote; all in one database
  # transaction, so that a failure leaves the previous settlement as it was.
  sequential "settle" {
    transaction = "ledger"

    sql "post" {
      datasource = "ledger"
      statements = [
        { sql = "DELETE FROM settlements WHERE biz_date = $1", args = [param.biz_date] },
        {
          sql  = <<-SQL
            INSERT INTO settlements (biz_date, account, credits_cents, debits_cents, net_cents, tx_count)
            SELECT biz_date, account,
                   SUM(CASE WHEN cents > 0 THEN cents ELSE 0 END),
                   SUM(CASE WHEN cents < 0 THEN -cents ELSE 0 END),
                   SUM(cents), COUNT(*)
            FROM transactions WHERE biz_date = $1
            GROUP BY biz_date, account
          SQL
          args = [param.biz_date]
        },
      ]
    }
    sql "control" {
      datasource = "ledger"
      query      = <<-SQL
        SELECT COUNT(*) AS accounts,
               COALESCE(SUM(tx_count), 0) AS transactions,
               COALESCE(SUM(credits_cents), 0) AS credits_cents,
               COALESCE(SUM(debits_cents), 0) AS debits_cents,
               COALESCE(SUM(net_cents), 0) AS net_cents
        FROM settlements WHERE biz_date = $1
      SQL
      args       = [param.biz_date]
    }
    fail "unbalanced" {
      if      = step.control.rows[0].transactions != step.load.write_count
      message = "the ledger holds ${step.control.rows[0].transactions} transactions of ${param.biz_date}, the load wrote ${step.load.write_count}"
    }

    output "totals" {
      value = step.control.rows[0]
    }
  }

  parallel "reports" {
    sql "by_account" {
      datasource = "ledger"
      query      = "SELECT account, tx_count, credits_cents, debits_cents, net_cents FROM settlements WHERE biz_date = $1 ORDER BY account"
      args       = [param.biz_date]
    }
    sql "by_branch" {
      datasource = "ledger"
      query      = "SELECT branch, COUNT(*) AS tx_count, SUM(cents) AS net_cents FROM transactions WHERE biz_date = $1 GROUP BY branch ORDER BY branch"
      args       = [param.biz_date]
    }

    output "by_account" {
      value = { for r in step.by_account.rows : r.account => r.net_cents }
    }
    output "by_branch" {
      value = { for r in step.by_branch.rows : r.branch => r.net_cents }
    }
  }

  choose "notify" {
    when {
      condition = step.load.skip_count > 0
      set "some_skipped" {
        assign = { verdict = "${step.load.skip_count} rows skipped" }
      }
      log "warn" {
        level   = "warn"
        message = "${var.verdict}: see ${param.out}/skipped-${param.biz_date}.jsonl"
      }
    }
    otherwise {
      set "clean" {
        assign = { verdict = "all rows loaded" }
      }
      log "ok" {
        message = var.verdict
      }
    }
  }

  log "done" {
    message = "settled ${param.biz_date}: ${step.settle.totals.transactions} transactions on ${step.settle.totals.accounts} accounts, net ${format("%.2f", step.settle.totals.net_cents / 100)} EUR"
  }

  output "loaded" {
    value = step.load.write_count
  }
  output "skipped" {
    value = step.load.skip_count
  }
  output "filtered" {
    value = step.load.filter_count
  }
  output "totals" {
    value = step.settle.totals
  }
  output "by_account" {
    value = step.reports.by_account
  }
  output "by_branch" {
    value = step.reports.by_branch
  }
  output "verdict" {
    value = var.verdict
  }
}
