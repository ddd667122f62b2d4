# A SQL writer naming a datasource the flow does not declare.
flow "load" {
  datasource "ledger" {
    driver = "sqlite"
    dsn    = "ledger.db"
  }

  batch "load" {
    reader "csv" { path = "in.csv" }
    writer "sql" {
      datasource = "legder"
      table      = "payments"
    }
  }
}
