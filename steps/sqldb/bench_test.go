package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/flowbatch/flow/flow"
)

// BenchmarkWriter measures the sql writer end to end: 20,000 generated
// records in chunks of 1,000 (rows and markers committed per chunk).
//
//	go test ./steps/sqldb -run '^$' -bench Writer
func BenchmarkWriter(b *testing.B) {
	for _, d := range drivers {
		b.Run(d, func(b *testing.B) {
			db := openDB(b, d)
			db.exec(b, genDDL(d, "dst", ""))
			f := db.load(b, `
  batch "load" {
    chunk_size = 1000
    reader "test_gen" { count = 20000 }
    writer "sql" {
      datasource = "db"
      table      = "dst"
    }
  }`, nil)
			b.ResetTimer()
			for b.Loop() {
				res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{Params: db.params(nil)})
				if err != nil || res.Status != flow.Completed {
					b.Fatalf("%v %v", err, res.Err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20000, "ns/record")
		})
	}
}

// BenchmarkPostgresChunk compares the ways to write a chunk of 1,000 rows
// of 6 columns into PostgreSQL in a transaction: one multi-row INSERT with
// bind parameters (what the writer does) against COPY through pgx.
func BenchmarkPostgresChunk(b *testing.B) {
	db, err := sql.Open("pgx", openDB(b, "postgres").dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	table := "flowbench_" + suffix()
	if _, err := db.Exec("CREATE TABLE " + table + " (id BIGINT, amount NUMERIC(14,2), name TEXT, ok BOOLEAN, at TIMESTAMP, note TEXT)"); err != nil {
		b.Fatal(err)
	}
	defer db.Exec("DROP TABLE " + table)
	const n = 1000
	rows := make([][]any, n)
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for i := range rows {
		rows[i] = []any{int64(i), fmt.Sprintf("%d.25", i), fmt.Sprintf("name %d", i), i%2 == 0, at.Add(time.Duration(i) * time.Second), nil}
	}
	cols := []string{"id", "amount", "name", "ok", "at", "note"}
	b.Run("insert", func(b *testing.B) {
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + table + " (id, amount, name, ok, at, note) VALUES ")
		args := make([]any, 0, n*6)
		for i, r := range rows {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(")
			for j := range r {
				if j > 0 {
					sb.WriteString(", ")
				}
				args = append(args, r[j])
				fmt.Fprintf(&sb, "$%d", len(args))
			}
			sb.WriteString(")")
		}
		q := sb.String()
		for b.Loop() {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
	})
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			conn, err := db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			err = conn.Raw(func(dc any) error {
				_, err := dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			conn.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
	})
}

// BenchmarkReader measures the sql reader: 20,000 rows in keyset pages of
// 1,000, into a writer that discards them.
func BenchmarkReader(b *testing.B) {
	for _, d := range drivers {
		b.Run(d, func(b *testing.B) {
			db := openDB(b, d)
			db.exec(b, genDDL(d, "src", " PRIMARY KEY"))
			f := db.load(b, `
  batch "fill" {
    chunk_size = 1000
    reader "test_gen" { count = 20000 }
    writer "sql" {
      datasource = "db"
      table      = "src"
    }
  }`, nil)
			if res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{Params: db.params(nil)}); err != nil || res.Status != flow.Completed {
				b.Fatalf("fill: %v %v", err, res.Err)
			}
			f = db.load(b, `
  batch "read" {
    chunk_size = 1000
    reader "sql" {
      datasource = "db"
      query      = "SELECT id, amount, name, ok, at, note FROM src"
    }
    writer "test_flaky" {}
  }`, nil)
			b.ResetTimer()
			for b.Loop() {
				res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{Params: db.params(nil)})
				if err != nil || res.Status != flow.Completed {
					b.Fatalf("%v %v", err, res.Err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20000, "ns/record")
		})
	}
}
