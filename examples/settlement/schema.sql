-- The ledger of examples/settlement. The statements run in SQLite and in
-- PostgreSQL alike, and again on every run: IF NOT EXISTS everywhere.
--
-- Money is kept in integer cents (BIGINT): exact in every database, where
-- SQLite would store a DECIMAL column's values as floats.

-- One row per booked transaction; a debit has negative cents. Loaded by
-- the batch step, with an upsert on id: loading a day again changes
-- nothing.
CREATE TABLE IF NOT EXISTS transactions (
  id        BIGINT PRIMARY KEY,
  biz_date  TEXT      NOT NULL,
  booked_at TIMESTAMP NOT NULL,
  account   TEXT      NOT NULL,
  branch    TEXT      NOT NULL,
  kind      TEXT      NOT NULL,
  cents     BIGINT    NOT NULL
);

CREATE INDEX IF NOT EXISTS transactions_biz_date ON transactions (biz_date, account);

-- The settlement of each account for a business date: replaced as a whole
-- each time the date is settled.
CREATE TABLE IF NOT EXISTS settlements (
  biz_date      TEXT    NOT NULL,
  account       TEXT    NOT NULL,
  credits_cents BIGINT  NOT NULL,
  debits_cents  BIGINT  NOT NULL,
  net_cents     BIGINT  NOT NULL,
  tx_count      INTEGER NOT NULL,
  PRIMARY KEY (biz_date, account)
);
