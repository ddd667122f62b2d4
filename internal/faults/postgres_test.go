package faults_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/flowbatch/flow/internal/pgtest"
)

// pgDB is a schema of its own in the test database (internal/pgtest:
// FLOW_TEST_POSTGRES_DSN or the local default, skipped when unreachable
// unless CI is set), dropped at the end, and the DSN a flow uses to reach
// it: its connections carry an application name of their own, so that the
// test kills theirs only.
type pgDB struct {
	admin   *sql.DB
	schema  string
	app     string
	flowDSN string
}

func openPostgres(t *testing.T) *pgDB {
	t.Helper()
	dsn, schema := pgtest.Schema(t, "flowfaults")
	d := &pgDB{schema: schema, app: schema}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("application_name", d.app)
		u.RawQuery = q.Encode()
		d.flowDSN = u.String()
	} else {
		d.flowDSN = dsn + " application_name=" + d.app
	}
	admin, err := sql.Open("pgx", pgtest.BaseDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // before the schema is dropped
	d.admin = admin
	return d
}

// killBackends terminates every connection of the flow's application
// name and returns how many there were.
func (d *pgDB) killBackends(ctx context.Context) (int, error) {
	var n int
	err := d.admin.QueryRowContext(ctx, `SELECT count(*) FROM (
  SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
  WHERE application_name = $1 AND pid <> pg_backend_pid()) k WHERE killed`, d.app).Scan(&n)
	return n, err
}

// pgFlow loads in.csv into payments through the SQL writer, with
// ATTEMPTS attempts for a failed chunk.
const pgFlow = `flow "pg_faults" {
  param "dsn" {
    type      = string
    sensitive = true
  }

  datasource "db" {
    driver = "postgres"
    dsn    = param.dsn
  }

  batch "load" {
    chunk_size = 250
    retry {
      max_attempts = ATTEMPTS
      strategy     = "constant"
      min_interval = "20ms"
    }
    reader "csv" {
      path   = "in.csv"
      schema = { id = "int", amount = "decimal" }
    }
    writer "sql" {
      datasource = "db"
      table      = "payments"
    }
  }
  output "written" { value = step.load.write_count }
  output "rollbacks" { value = step.load.rollback_count }
}
`

// A second connection kills the writer's PostgreSQL connections
// (pg_terminate_backend) at random moments while a batch loads 20,000
// records: mid-insert, mid-commit, between chunks. A chunk whose
// connection dies is retried on a new one, or the step fails cleanly
// when its retries run out; running the flow again resumes it. Once it
// completes, the table holds every record exactly once (it has no key: only
// the writer's chunk markers keep a retried or resumed chunk from being
// written twice).
func TestPostgresConnectionKilled(t *testing.T) {
	// With retries, chunks are retried on new connections; without, the
	// step fails at the first killed chunk and the next run resumes it.
	t.Run("retried", func(t *testing.T) { pgKillRun(t, 4) })
	t.Run("resumed", func(t *testing.T) { pgKillRun(t, 1) })
}

func pgKillRun(t *testing.T, attempts int) {
	d := openPostgres(t)
	ctx := context.Background()
	if _, err := d.admin.ExecContext(ctx, "CREATE TABLE "+d.schema+".payments (id BIGINT, account TEXT, amount NUMERIC(12,2))"); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"in.csv": paymentsCSV(n),
		"pg.flow.hcl": strings.Replace(pgFlow, "ATTEMPTS", fmt.Sprint(attempts), 1)})
	args := []string{"exec", "--store", "st/flow.db", "pg.flow.hcl", "-p", "dsn=" + d.flowDSN}

	var kills atomic.Int64
	runs, failed := 0, 0
	rollbacks := ""
	for {
		runs++
		if runs > 12 {
			t.Fatalf("not completed after %d runs", runs-1)
		}
		// The killer works through the first runs, then lets the flow
		// finish.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		if runs <= 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(runs), 7))
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(15+rng.IntN(60)) * time.Millisecond):
					}
					k, err := d.killBackends(ctx)
					if err != nil {
						t.Errorf("pg_terminate_backend: %v", err)
						return
					}
					kills.Add(int64(k))
				}
			}()
		}
		r := flowRun(t, dir, "", 2*time.Minute, args...)
		close(stop)
		wg.Wait()
		if r.code == 0 {
			wantCompleted(t, r)
			if !strings.Contains(r.stdout, fmt.Sprintf("written = %d", n)) {
				t.Errorf("the completed run reports:\n%s", r)
			}
			if _, after, ok := strings.Cut(r.stdout, "rollbacks = "); ok {
				rollbacks, _, _ = strings.Cut(after, "\n")
			}
			break
		}
		failed++
		wantCleanFailure(t, r)
		if failed == 1 {
			t.Logf("the first failed run says: %s", strings.TrimSpace(r.stdout))
		}
		if all := r.stdout + r.stderr; strings.Contains(all, d.flowDSN) {
			t.Errorf("the DSN is shown in full:\n%s", all)
		}
	}
	if kills.Load() == 0 {
		t.Error("no connection was killed: the test tested nothing")
	}
	if attempts == 1 && failed == 0 {
		t.Error("without retries, no run failed: no connection was killed mid-chunk")
	}

	var count, distinct, lo, hi int64
	var sum string
	err := d.admin.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT id), min(id), max(id), sum(amount)::text FROM "+d.schema+".payments").
		Scan(&count, &distinct, &lo, &hi, &sum)
	if err != nil {
		t.Fatal(err)
	}
	if count != n || distinct != n || lo != 1 || hi != n {
		t.Errorf("payments: %d rows, %d ids from %d to %d; want %d rows, ids 1 to %d once each", count, distinct, lo, hi, n, n)
	}
	if want := csvAmountSum(n); sum != want {
		t.Errorf("sum(amount) = %s, want %s", sum, want)
	}
	t.Logf("%d runs (%d failed), %d connections killed, %s chunks rolled back in the last run; %d rows, none lost, none twice",
		runs, failed, kills.Load(), rollbacks, count)
}

// csvAmountSum is the exact sum of paymentsCSV(n)'s amounts.
func csvAmountSum(n int) string {
	var cents int64
	for i := 1; i <= n; i++ {
		cents += int64(i*31%100000)*100 + int64(i%100)
	}
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}
