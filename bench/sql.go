package main

// Workload 5: CSV → T → a table, by the batch step's sql writer and by
// hand-written baselines: plain database/sql multi-row INSERTs, and COPY
// through pgx on PostgreSQL. All of them commit one transaction per 1000
// input records, as the batch step does per chunk.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/sqldb"
)

const sqlDDL = "CREATE TABLE payments (id BIGINT, account VARCHAR(20), cents BIGINT, currency VARCHAR(8), big BOOLEAN)"

var sqlColumns = []string{"id", "account", "cents", "currency", "big"}

const sqlFlow = `flow "bench_sql" {
  param "in" {
    type = string
  }
  param "driver" {
    type = string
  }
  param "dsn" {
    type      = string
    sensitive = true
  }

  datasource "db" {
    driver = param.driver
    dsn    = param.dsn
  }

  batch "load" {
    chunk_size        = 1000
    progress_interval = "1h"

    reader "csv" {
      path   = param.in
      schema = { id = "int", amount = "decimal" }
    }
    processor "standard" {}
    writer "sql" {
      datasource = "db"
      table      = "payments"
    }
  }

  output "read" {
    value = step.load.read_count
  }
}
`

// defaultPostgres is the server the SQL workload uses when neither
// FLOW_BENCH_POSTGRES_DSN nor FLOW_TEST_POSTGRES_DSN names one.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func postgresDSN() string {
	for _, k := range []string{"FLOW_BENCH_POSTGRES_DSN", "FLOW_TEST_POSTGRES_DSN"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return defaultPostgres
}

// pgSchema makes a schema of its own for a harness run and returns a DSN
// whose search_path is that schema, and a function that drops it. An
// unreachable server gives an error that says so.
func pgSchema(ctx context.Context, base string) (dsn string, drop func(), err error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		return "", nil, fmt.Errorf("no PostgreSQL at %s (set FLOW_BENCH_POSTGRES_DSN): %v", sqldb.RedactDSN(sqldb.Postgres, base), err)
	}
	schema := fmt.Sprintf("flowbench_%d", os.Getpid())
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	drop = func() {
		if a, err := sql.Open("pgx", base); err == nil {
			_, _ = a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		drop()
		return "", nil, fmt.Errorf("the PostgreSQL DSN must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// freshTable gives a workload an empty payments table (and no chunk
// markers) and returns a pool on its database.
func freshTable(ctx context.Context, s *spec) (*sql.DB, error) {
	var db *sql.DB
	switch s.Driver {
	case sqldb.SQLite:
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(s.DSN + suffix)
		}
		ds, err := sqldb.OpenDSN("bench", sqldb.SQLite, s.DSN, s.Dir, 1)
		if err != nil {
			return nil, err
		}
		db = ds.DB
	case sqldb.Postgres:
		var err error
		if db, err = sql.Open("pgx", s.DSN); err != nil {
			return nil, err
		}
		for _, q := range []string{"DROP TABLE IF EXISTS payments", "DROP TABLE IF EXISTS flowbatch_chunks"} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				db.Close()
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("unknown driver %q", s.Driver)
	}
	if _, err := db.ExecContext(ctx, sqlDDL); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkTable is the check of every SQL workload: the table holds the rows
// T keeps, with their cents.
func checkTable(s *spec, db *sql.DB) func(ctx context.Context, smp *sample) error {
	return func(ctx context.Context, smp *sample) error {
		defer db.Close()
		var n, cents int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(cents), 0) FROM payments").Scan(&n, &cents); err != nil {
			return err
		}
		if n != s.Kept || cents != s.Cents {
			return fmt.Errorf("the table holds %d rows of %d cents, want %d rows of %d", n, cents, s.Kept, s.Cents)
		}
		return nil
	}
}

func prepSQLEngine(ctx context.Context, s *spec) (*prepared, error) {
	registerStandard()
	db, err := freshTable(ctx, s)
	if err != nil {
		return nil, err
	}
	f, err := loadFlow(s.Dir, "sql.flow.hcl", sqlFlow)
	if err != nil {
		db.Close()
		return nil, err
	}
	params := map[string]cty.Value{"in": cty.StringVal(s.In), "driver": cty.StringVal(s.Driver), "dsn": cty.StringVal(s.DSN)}
	return &prepared{
		body: func(ctx context.Context) (*sample, error) {
			res, err := runFlow(ctx, f, params, s.Store, s.Dir)
			if err != nil {
				return nil, err
			}
			read, err := intOutput(res, "read")
			if err != nil {
				return nil, err
			}
			return &sample{Records: read}, nil
		},
		check: checkTable(s, db),
	}, nil
}

// sqlRow is a row of T's output as the baselines insert it.
type sqlRow struct {
	id       int64
	account  string
	cents    int64
	currency string
	big      bool
}

// readChunks reads the standard input with encoding/csv, applies T, and
// calls fn with the kept rows of every 1000 input records.
func readChunks(path string, fn func(rows []sqlRow) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return 0, fmt.Errorf("%s: header: %w", path, err)
	}
	var read int64
	rows := make([]sqlRow, 0, 1000)
	inChunk := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return read, err
		}
		read++
		inChunk++
		if len(rec) < 4 {
			line, _ := r.FieldPos(0)
			return read, fmt.Errorf("%s:%d: %d fields", path, line, len(rec))
		}
		id, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil {
			line, _ := r.FieldPos(0)
			return read, fmt.Errorf("%s:%d: field id: %w", path, line, err)
		}
		cents, err := parseCents(rec[2])
		if err != nil {
			line, _ := r.FieldPos(2)
			return read, fmt.Errorf("%s:%d: field amount: %w", path, line, err)
		}
		if cents >= 1000 {
			rows = append(rows, sqlRow{id, strings.Clone(rec[1]), cents, strings.ToLower(rec[3]), cents > 500000})
		}
		if inChunk == 1000 {
			if err := fn(rows); err != nil {
				return read, err
			}
			rows, inChunk = rows[:0], 0
		}
	}
	if inChunk > 0 {
		if err := fn(rows); err != nil {
			return read, err
		}
	}
	return read, nil
}

// parseCents reads an amount with at most two decimals as whole cents.
func parseCents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	if whole == "" && frac == "" || len(frac) > 2 {
		return 0, fmt.Errorf("invalid amount %q", s)
	}
	frac += "00"[len(frac):]
	var c int64
	for _, d := range whole + frac {
		if d < '0' || d > '9' || c > (1<<62)/10 {
			return 0, fmt.Errorf("invalid amount %q", s)
		}
		c = c*10 + int64(d-'0')
	}
	if neg {
		c = -c
	}
	return c, nil
}

func prepSQLInsert(ctx context.Context, s *spec) (*prepared, error) {
	db, err := freshTable(ctx, s)
	if err != nil {
		return nil, err
	}
	var (
		stmts = map[int]*sql.Stmt{} // by row count
		args  []any
	)
	placeholder := func(i int) string { return "?" }
	if s.Driver == sqldb.Postgres {
		placeholder = func(i int) string { return "$" + strconv.Itoa(i) }
	}
	query := func(rows int) string {
		var b strings.Builder
		b.WriteString("INSERT INTO payments (id, account, cents, currency, big) VALUES ")
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := 0; c < 5; c++ {
				if c > 0 {
					b.WriteString(", ")
				}
				b.WriteString(placeholder(r*5 + c + 1))
			}
			b.WriteByte(')')
		}
		return b.String()
	}
	return &prepared{
		body: func(ctx context.Context) (*sample, error) {
			defer func() {
				for _, st := range stmts {
					st.Close()
				}
			}()
			read, err := readChunks(s.In, func(rows []sqlRow) error {
				if len(rows) == 0 {
					return nil
				}
				st := stmts[len(rows)]
				if st == nil {
					var err error
					if st, err = db.PrepareContext(ctx, query(len(rows))); err != nil {
						return err
					}
					stmts[len(rows)] = st
				}
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				args = args[:0]
				for _, r := range rows {
					args = append(args, r.id, r.account, r.cents, r.currency, r.big)
				}
				if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
					tx.Rollback()
					return err
				}
				return tx.Commit()
			})
			if err != nil {
				return nil, err
			}
			return &sample{Records: read}, nil
		},
		check: checkTable(s, db),
	}, nil
}

func prepSQLCopy(ctx context.Context, s *spec) (*prepared, error) {
	if s.Driver != sqldb.Postgres {
		return nil, errors.New("COPY is PostgreSQL's")
	}
	db, err := freshTable(ctx, s)
	if err != nil {
		return nil, err
	}
	return &prepared{
		body: func(ctx context.Context) (*sample, error) {
			conn, err := pgx.Connect(ctx, s.DSN)
			if err != nil {
				return nil, err
			}
			defer conn.Close(context.Background())
			var vals [][]any
			read, err := readChunks(s.In, func(rows []sqlRow) error {
				if len(rows) == 0 {
					return nil
				}
				vals = vals[:0]
				for _, r := range rows {
					vals = append(vals, []any{r.id, r.account, r.cents, r.currency, r.big})
				}
				tx, err := conn.Begin(ctx)
				if err != nil {
					return err
				}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{"payments"}, sqlColumns, pgx.CopyFromRows(vals)); err != nil {
					tx.Rollback(ctx)
					return err
				}
				return tx.Commit(ctx)
			})
			if err != nil {
				return nil, err
			}
			return &sample{Records: read}, nil
		},
		check: checkTable(s, db),
	}, nil
}

// sqliteDSN is the database file of a SQLite workload.
func sqliteDSN(dir string) string { return filepath.Join(dir, "payments.db") }
