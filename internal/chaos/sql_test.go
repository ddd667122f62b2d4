package chaos_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/flowbatch/flow/internal/gen"
)

var (
	sqlKills   = flag.Int("chaos.sql.kills", 4, "the least number of SIGKILLs TestSQLChaos sends for each database")
	sqlRecords = flag.Int("chaos.sql.records", 200000, "how many records the input of TestSQLChaos has")
)

// sqlChaosFlow loads the standard input into a table through the
// standard transform: CSV reader, Go processor, SQL writer.
const sqlChaosFlow = `flow "sql_chaos" {
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
  param "concurrency" {
    type    = number
    default = 1
  }

  datasource "db" {
    driver = param.driver
    dsn    = param.dsn
  }

  batch "load" {
    chunk_size   = 1000
    concurrency  = param.concurrency
    partition_by = param.concurrency > 1 ? "account" : null

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
}
`

// TestSQLChaos kills a batch step that writes 200k records into a table
// (SQLite, and PostgreSQL when reachable) at random moments, runs it again
// until it completes, and checks that the table holds exactly the rows of
// an uninterrupted transform: none twice, none missing. The table has no
// key that would refuse a duplicate: only the writer's chunk markers stand
// between a resume and a row written twice.
func TestSQLChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a 200k-record batch")
	}
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./internal/chaos -run 'TestSQLChaos' -chaos.seed=%d -chaos.sql.kills=%d -chaos.sql.records=%d", s, *sqlKills, *sqlRecords)
		}
	})
	base := t.TempDir()
	bin := flowxBin(t)
	in := filepath.Join(base, "in.csv")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteCSV(f, *sqlRecords, int64(s%(1<<31))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	src, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Baseline(src, &want); err != nil {
		t.Fatal(err)
	}
	src.Close()
	flowFile := filepath.Join(base, "sql.flow.hcl")
	if err := os.WriteFile(flowFile, []byte(sqlChaosFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(s, 2))
	for _, sc := range []struct {
		driver      string
		concurrency int
	}{{"sqlite", 1}, {"postgres", 1}, {"postgres", 2}} {
		t.Run(fmt.Sprintf("%s concurrency %d", sc.driver, sc.concurrency), func(t *testing.T) {
			db, dsn := chaosDB(t, sc.driver, base)
			d := &sqlDriver{bin: bin, flow: flowFile, in: in, driver: sc.driver, dsn: dsn, db: db, concurrency: sc.concurrency}
			// An uninterrupted run: correct, and how long a run takes.
			start := time.Now()
			if err := d.round(t, t.TempDir(), nil); err != nil {
				t.Fatalf("uninterrupted run: %v", err)
			}
			span := time.Since(start)
			if err := d.check(want.Bytes()); err != nil {
				t.Fatalf("uninterrupted run: %v", err)
			}
			t.Logf("uninterrupted run: %s", span.Round(time.Millisecond))
			kills, rounds := 0, 0
			for kills < *sqlKills {
				if rounds > 3*(*sqlKills)+5 {
					t.Fatalf("only %d kills landed in %d rounds", kills, rounds)
				}
				rounds++
				n := 1 + rng.IntN(3)
				var delays []time.Duration
				for range n {
					delays = append(delays, time.Duration(rng.Int64N(int64(span))))
				}
				var landed int
				if err := d.round(t, t.TempDir(), func(k int) (time.Duration, bool) {
					if k >= len(delays) {
						return 0, false
					}
					return delays[k], true
				}, &landed); err != nil {
					t.Fatalf("round %d (kills after %v): %v", rounds, delays, err)
				}
				kills += landed
				if err := d.check(want.Bytes()); err != nil {
					t.Fatalf("round %d (kills after %v, %d landed): %v", rounds, delays, landed, err)
				}
			}
			t.Logf("%d rounds, %d kills; every round's table held exactly the expected rows; seed %d", rounds, kills, s)
		})
	}
}

// chaosDB returns a pool on a fresh database for the payments table and
// the DSN the flow uses.
func chaosDB(t *testing.T, driver, base string) (*sql.DB, string) {
	t.Helper()
	const ddl = "CREATE TABLE payments (id BIGINT, account VARCHAR(20), cents BIGINT, currency VARCHAR(8), big BOOLEAN)"
	if driver == "sqlite" {
		path := filepath.Join(t.TempDir(), "payments.db")
		db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		return db, path
	}
	dsn := os.Getenv("FLOW_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		msg := fmt.Sprintf("no PostgreSQL (set FLOW_TEST_POSTGRES_DSN): %v", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	schema := fmt.Sprintf("flowchaos_%d_%08x", os.Getpid(), rand.Uint32())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("FLOW_TEST_POSTGRES_DSN is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		a, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if _, err := db.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	return db, u.String()
}

type sqlDriver struct {
	bin, flow, in, driver, dsn string
	db                         *sql.DB
	concurrency                int
}

// round empties the table and runs the flow with a fresh store until it
// completes; kill(k) gives the delay after which run k is killed (false:
// let it run). It counts the kills that landed (the process had not ended
// by itself).
func (d *sqlDriver) round(t *testing.T, dir string, kill func(k int) (time.Duration, bool), landed ...*int) error {
	t.Helper()
	if _, err := d.db.Exec("DELETE FROM payments"); err != nil {
		return err
	}
	args := []string{"exec", d.flow, "--store", filepath.Join(dir, "flow.db"),
		"-p", "in=" + d.in, "-p", "driver=" + d.driver, "-p", "dsn=" + d.dsn, "-p", fmt.Sprintf("concurrency=%d", d.concurrency)}
	for k := 0; k < 20; k++ {
		cmd := exec.Command(d.bin, args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timer <-chan time.Time
		if kill != nil {
			if delay, ok := kill(k); ok {
				tm := time.NewTimer(delay)
				defer tm.Stop()
				timer = tm.C
			}
		}
		select {
		case err := <-done:
			if err == nil {
				return nil
			}
			// A kill that landed as the run was exiting, after it had
			// recorded its completion: this run finds it completed.
			if k > 0 && strings.Contains(out.String(), "already completed") {
				return nil
			}
			return fmt.Errorf("run %d: %v\n%s", k+1, err, out.String())
		case <-timer:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err := <-done
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				for _, l := range landed {
					*l++
				}
				continue
			}
			if err == nil {
				return nil // it completed before the kill
			}
			return fmt.Errorf("run %d: %v\n%s", k+1, err, out.String())
		case <-time.After(5 * time.Minute):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return fmt.Errorf("run %d did not end in 5 minutes\n%s", k+1, out.String())
		}
	}
	return fmt.Errorf("not completed after 20 runs")
}

// check compares the table, in id order, with the baseline's rows.
func (d *sqlDriver) check(want []byte) error {
	got, err := d.tableLines()
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(want))
	sc.Scan() // header
	prev := ""
	for i, line := range got {
		id, _, _ := strings.Cut(line, ",")
		if id == prev {
			return fmt.Errorf("id %s is in the table twice", id)
		}
		prev = id
		if !sc.Scan() {
			return fmt.Errorf("row %d (%s) is more than the %d expected", i+1, line, i)
		}
		if w := sc.Text(); w != line {
			return fmt.Errorf("row %d is %q, want %q (a row missing or wrong)", i+1, line, w)
		}
	}
	if sc.Scan() {
		return fmt.Errorf("the table has %d rows; the next expected, %q, is missing", len(got), strings.TrimSpace(sc.Text()))
	}
	return nil
}

// tableLines returns the table's rows as the baseline writes them
// (id,account,cents,currency,big), in id order. SQLite's are read by the
// binary, a SQL reader into a CSV: modernc.org/sqlite under the race
// detector, in the test, takes seconds for 50k rows.
func (d *sqlDriver) tableLines() ([]string, error) {
	if d.driver == "sqlite" {
		return d.dumpTable()
	}
	rows, err := d.db.Query("SELECT id, account, cents, currency, big FROM payments ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, cents int64
		var account, currency string
		var big bool
		if err := rows.Scan(&id, &account, &cents, &currency, &big); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%d,%s,%d,%s,%t", id, account, cents, currency, big))
	}
	return out, rows.Err()
}

// dumpFlow writes the payments table to a CSV, in rowid order: the key
// of the SQL reader's pages must be unique, and a duplicated id is what
// the check looks for.
const dumpFlow = `flow "dump" {
  param "dsn" {
    type = string
  }
  param "out" {
    type = string
  }
  datasource "db" {
    driver = "sqlite"
    dsn    = param.dsn
  }
  batch "dump" {
    chunk_size = 5000
    reader "sql" {
      datasource = "db"
      query      = "SELECT rowid AS rk, id, account, cents, currency, CASE WHEN big THEN 'true' ELSE 'false' END AS big FROM payments"
      key        = ["rk"]
    }
    writer "csv" {
      path    = param.out
      header  = false
      columns = ["id", "account", "cents", "currency", "big"]
    }
  }
}
`

func (d *sqlDriver) dumpTable() ([]string, error) {
	dir, err := os.MkdirTemp("", "flow-chaos-dump-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	flowFile, out := filepath.Join(dir, "dump.flow.hcl"), filepath.Join(dir, "table.csv")
	if err := os.WriteFile(flowFile, []byte(dumpFlow), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(d.bin, "exec", flowFile, "--no-store", "-p", "dsn="+d.dsn, "-p", "out="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dumping the table: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		lines = nil
	}
	ids := make(map[string]int64, len(lines))
	for _, l := range lines {
		id, _, _ := strings.Cut(l, ",")
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the table's dump has a row %q with no id", l)
		}
		ids[id] = n
	}
	sort.SliceStable(lines, func(i, j int) bool {
		a, _, _ := strings.Cut(lines[i], ",")
		b, _, _ := strings.Cut(lines[j], ",")
		return ids[a] < ids[b]
	})
	return lines, nil
}
