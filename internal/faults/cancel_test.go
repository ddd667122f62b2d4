package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"go.uber.org/goleak"

	_ "github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/script"
	_ "github.com/flowbatch/flow/steps"
)

// loadFlow writes files into a new directory and loads its main.flow.hcl.
func loadFlow(t *testing.T, files map[string]string) (*flow.Flow, string) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	set, diags := flow.Load(filepath.Join(dir, "main.flow.hcl"), nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	f, err := set.Only()
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

// busyFlow is a batch with every moving part: four workers sharing the
// reader, per-account partitions, a JavaScript processor, two writers, one
// of them filtered, and a skip log; a timeout bounds the step when the
// param asks for one, and an exec step and a fork of sleeps run beside it.
const busyFlow = `flow "busy" {
  param "timeout" {
    type    = string
    default = "10m"
  }
  parallel "all" {
    batch "load" {
      timeout      = param.timeout
      chunk_size   = 200
      concurrency  = 4
      partition_by = "account"
      skip {
        limit = 1000
        log   = "out/skipped.jsonl"
      }
      reader "csv" {
        path   = "in.csv"
        schema = { id = "int", amount = "decimal" }
      }
      processor "js" {
        code = <<-JS
          if (item.id % 97 === 0) throw new Error("bad " + item.id);
          emit({ ...item, cents: Math.round(item.amount * 100) });
        JS
      }
      writer "csv" { path = "out/all.csv" }
      writer "jsonl" "big" {
        path   = "out/big.jsonl"
        filter = "item.cents > 50000"
      }
    }
    exec "wait" {
      timeout = param.timeout
      command = ["sleep", "30"]
    }
    fork "naps" {
      for_each = range(8)
      timeout  = param.timeout
      sleep "nap" { duration = "30s" }
    }
  }
}
`

// Batches and steps cancelled or timed out at random moments, eight runs
// at a time: every run ends (failed, with the cause), and once they have
// all ended no goroutine is left: no worker, no reader, no JavaScript
// runtime, no child process watcher. goleak checks it here, and again for
// the whole package in TestMain.
func TestCancelUnderLoad(t *testing.T) {
	before := goleak.IgnoreCurrent()
	f, _ := loadFlow(t, map[string]string{"main.flow.hcl": busyFlow, "in.csv": paymentsCSV(60000)})
	rng := rand.New(rand.NewPCG(3, 4))
	type outcome struct {
		how string
		res *flow.Result
	}
	const runs = 16
	results := make(chan outcome, runs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < runs; i++ {
		delay := time.Duration(rng.IntN(150)) * time.Millisecond
		timeout := i%2 == 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			params := map[string]cty.Value{}
			how := "cancelled after " + delay.String()
			if timeout {
				params["timeout"] = cty.StringVal(fmt.Sprintf("%dms", delay.Milliseconds()+1))
				how = "timed out after " + delay.String()
			}
			run, err := flow.NewEngine(nil).Start(ctx, f, flow.RunOptions{Params: params})
			if err != nil {
				t.Error(err)
				return
			}
			if !timeout {
				go func() {
					time.Sleep(delay)
					cancel()
				}()
			}
			select {
			case <-run.Done():
			case <-time.After(2 * time.Minute):
				t.Errorf("a run %s did not end", how)
				cancel()
			}
			results <- outcome{how, run.Wait()}
		}()
	}
	wg.Wait()
	close(results)
	for o := range results {
		if o.res.Status != flow.Failed && o.res.Status != flow.Stopped {
			t.Errorf("a run %s ended %s (%v)", o.how, o.res.Status, o.res.Err)
			continue
		}
		if strings.Contains(o.how, "timed out") && flow.KindOf(o.res.Err) != flow.KindTimeout {
			t.Errorf("a run %s failed with an error of kind %s, not timeout: %v", o.how, flow.KindOf(o.res.Err), o.res.Err)
		}
		if o.res.Err == nil {
			t.Errorf("a run %s ended %s without an error", o.how, o.res.Status)
		}
	}
	goleak.VerifyNone(t, before)
}

// A PostgreSQL writer cancelled mid-chunk: the run ends, its datasource
// is closed, no connection or goroutine is left, and the table holds whole
// chunks only (every chunk is one transaction with its marker).
func TestCancelPostgresWriter(t *testing.T) {
	d := openPostgres(t)
	before := goleak.IgnoreCurrent()
	ctx := context.Background()
	if _, err := d.admin.ExecContext(ctx, "CREATE TABLE "+d.schema+".payments (id BIGINT, account TEXT, amount NUMERIC(12,2))"); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	f, _ := loadFlow(t, map[string]string{"in.csv": paymentsCSV(n),
		"main.flow.hcl": strings.Replace(pgFlow, "ATTEMPTS", "1", 1)})
	for i, delay := range []time.Duration{20 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond} {
		if _, err := d.admin.ExecContext(ctx, "TRUNCATE "+d.schema+".payments"); err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		run, err := flow.NewEngine(nil).Start(runCtx, f, flow.RunOptions{Params: map[string]cty.Value{"dsn": cty.StringVal(d.flowDSN)}})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(delay)
		cancel()
		select {
		case <-run.Done():
		case <-time.After(time.Minute):
			t.Fatalf("run %d: cancelled, it did not end", i)
		}
		res := run.Wait()
		var rows int
		if err := d.admin.QueryRowContext(ctx, "SELECT count(*) FROM "+d.schema+".payments").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows%250 != 0 && rows != n {
			t.Errorf("run %d (%s after %s): %d rows: not whole chunks of 250", i, res.Status, delay, rows)
		}
		// A closed connection's server process ends a moment later.
		var conns int
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err := d.admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", d.app).Scan(&conns); err != nil {
				t.Fatal(err)
			}
			if conns == 0 || time.Now().After(deadline) {
				break
			}
		}
		if conns != 0 {
			t.Errorf("run %d: %d connections of the flow still open after it ended", i, conns)
		}
		t.Logf("run %d: %s after %s with %d rows written", i, res.Status, delay, rows)
	}
	goleak.VerifyNone(t, before)
}
