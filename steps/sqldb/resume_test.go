package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// crashJournal is a journal that keeps only what was synced, as a store
// does across a crash: records made without sync wait for the next synced
// one. failAt makes a synced record fail and kills the journal: what was
// pending and everything after is lost, as with a kill -9 between the
// database's commit and the checkpoint's.
type crashJournal struct {
	mu       sync.Mutex
	restored map[string]flow.StepState
	pending  map[string]flow.StepState
	durable  map[string]flow.StepState
	forgot   []string
	failAt   func(st flow.StepState) bool
	dead     bool
}

var errCrash = errors.New("simulated crash before the checkpoint was durable")

func newCrashJournal() *crashJournal {
	return &crashJournal{restored: map[string]flow.StepState{}, pending: map[string]flow.StepState{}, durable: map[string]flow.StepState{}}
}

func (j *crashJournal) Restore(path string) (flow.StepState, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	st, ok := j.restored[path]
	return st, ok
}

func (j *crashJournal) Record(st flow.StepState, sync bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead {
		return errCrash // killed: nothing more is kept
	}
	if sync && j.failAt != nil && j.failAt(st) {
		j.pending = map[string]flow.StepState{}
		j.dead = true
		return errCrash
	}
	j.pending[st.Path] = st
	if sync {
		for p, s := range j.pending {
			j.durable[p] = s
		}
		j.pending = map[string]flow.StepState{}
	}
	return nil
}

func (j *crashJournal) Forget(path string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, m := range []map[string]flow.StepState{j.restored, j.pending, j.durable} {
		for p := range m {
			if flow.Under(p, path) {
				delete(m, p)
			}
		}
	}
	return nil
}

// next is the journal the next execution resumes from: what survived.
func (j *crashJournal) next() *crashJournal {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := newCrashJournal()
	for p, s := range j.restored {
		n.restored[p] = s
	}
	for p, s := range j.durable {
		n.restored[p] = s
	}
	return n
}

func runDurable(t *testing.T, f *flow.Flow, params map[string]cty.Value, j *crashJournal, id string) *flow.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := flow.NewEngine(nil).Run(ctx, f, flow.RunOptions{Params: params, ExecutionID: id, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Exactly once into a database: a run dies after its chunk's transaction
// committed but before the checkpoint that counts the chunk was durable;
// the resumed run finds the chunk's marker and writes nothing twice. The
// reader resumes after the last committed key.
func TestExactlyOnceAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs string
		crash int64  // the checkpoint (by commit count) that fails
		key   string // the reader's key
	}{
		{"first chunk", ``, 1, `["id"]`},
		{"mid-way", ``, 4, `["id"]`},
		{"composite key", ``, 4, `["grp", "id"]`},
		{"scope none", `transaction_scope = "none"`, 3, `["id"]`},
		{"scope consume", `transaction_scope = "consume"`, 3, `["id"]`},
		{"concurrency", "concurrency = 3\n    partition_by = \"grp\"", 5, `["id"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *testDB) {
				db.exec(t, "CREATE TABLE src (id INT PRIMARY KEY, grp INT, amount DECIMAL(12,2))",
					"CREATE TABLE dst (id INT, grp INT, amount DECIMAL(12,2))")
				var vals []string
				for i := 1; i <= 95; i++ {
					vals = append(vals, fmt.Sprintf("(%d, %d, %d.50)", i, i%7, i))
				}
				db.exec(t, "INSERT INTO src VALUES "+strings.Join(vals, ", "))
				f := db.load(t, `
  batch "load" {
    chunk_size = 10
    `+tc.attrs+`
    reader "sql" {
      datasource = "db"
      query      = "SELECT id, grp, amount FROM src"
      key        = `+tc.key+`
    }
    processor "test_count" {}
    writer "sql" {
      datasource = "db"
      table      = "dst"
    }
  }`, nil)
				j := newCrashJournal()
				j.failAt = func(st flow.StepState) bool {
					n, ok := progressOf(st)
					// >=: checkpoints saved while others pile up cover them
					// all (checkpoint_lag), so a count may be skipped.
					return st.Path == "main/load" && ok && n >= tc.crash
				}
				res := runDurable(t, f, db.params(nil), j, "exec-1")
				if res.Status != flow.Failed || !errors.Is(res.Err, errCrash) {
					t.Fatalf("first run: %s %v", res.Status, res.Err)
				}
				// (With concurrency, chunks are smaller than chunk_size and
				// commit out of order: only the end result is certain.)
				serial := !strings.Contains(tc.attrs, "concurrency")
				written := db.count(t, "dst")
				if serial && written < int(tc.crash)*10 {
					t.Fatalf("%d rows written before the crash, want at least %d (the chunk whose checkpoint failed is committed)", written, tc.crash*10)
				}
				if n := db.count(t, "flowbatch_chunks"); n == 0 {
					t.Fatal("no chunk markers left by the failed run")
				}
				before := processed.Load()
				resumeFrom := j.next()
				saved, _ := progressOf(resumeFrom.restored["main/load"])
				res = runDurable(t, f, db.params(nil), resumeFrom, "exec-2")
				if res.Status != flow.Completed {
					t.Fatalf("resumed run: %s %v", res.Status, res.Err)
				}
				if n := db.count(t, "dst"); n != 95 {
					t.Errorf("%d rows after the resume, want 95", n)
				}
				if n := db.count(t, "(SELECT DISTINCT id FROM dst) d"); n != 95 {
					t.Errorf("%d distinct ids, want 95: rows were written twice or lost", n)
				}
				if n := db.count(t, "dst d JOIN src s ON s.id = d.id WHERE s.amount = d.amount AND s.grp = d.grp"); n != 95 {
					t.Errorf("%d rows equal to their source, want 95", n)
				}
				// The resume re-read from the last saved checkpoint, not the
				// start (with checkpoint_lag, it may count fewer chunks than
				// the one whose save failed).
				if again := processed.Load() - before; serial && again > 95-saved*10 {
					t.Errorf("the resumed run processed %d records: it did not resume from the checkpoint of %d commits", again, saved)
				}
				if n := db.count(t, "flowbatch_chunks"); n != 0 {
					t.Errorf("%d markers left after the step finished", n)
				}
			})
		})
	}
}

// A crash before the first checkpoint: the run key was made durable
// before the first chunk, so the resume still finds the markers.
func TestExactlyOnceBeforeFirstCheckpoint(t *testing.T) {
	// With checkpoint_lag 0 the worker waits for the first checkpoint, so
	// only the first chunk is in the table when its save fails; with the
	// default lag the next chunks may be written meanwhile. Either way
	// the resume writes each row once.
	for _, lag := range []string{"0", ""} {
		eachDB(t, func(t *testing.T, db *testDB) {
			db.exec(t, "CREATE TABLE dst (id INT, amount DECIMAL(12,2), name VARCHAR(100), ok BOOLEAN, at TIMESTAMP NULL, note VARCHAR(100))")
			attr := ""
			if lag != "" {
				attr = "checkpoint_lag = " + lag
			}
			f := db.load(t, `
  batch "load" {
    chunk_size = 10
    `+attr+`
    reader "test_gen" { count = 25 }
    writer "sql" {
      datasource = "db"
      table      = "dst"
    }
  }`, nil)
			j := newCrashJournal()
			j.failAt = func(st flow.StepState) bool {
				n, ok := progressOf(st)
				return st.Path == "main/load" && ok && n >= 1
			}
			if res := runDurable(t, f, db.params(nil), j, "exec-1"); res.Status != flow.Failed {
				t.Fatalf("first run: %s %v", res.Status, res.Err)
			}
			n := db.count(t, "dst")
			if (lag == "0" && n != 10) || n < 10 || n > 25 {
				t.Fatalf("checkpoint_lag %q: %d rows before the resume, want the first chunk's 10 (with a lag, up to 25)", lag, n)
			}
			if res := runDurable(t, f, db.params(nil), j.next(), "exec-2"); res.Status != flow.Completed {
				t.Fatalf("resumed run: %s %v", res.Status, res.Err)
			}
			if n, d := db.count(t, "dst"), db.count(t, "(SELECT DISTINCT id FROM dst) d"); n != 25 || d != 25 {
				t.Errorf("checkpoint_lag %q: %d rows, %d distinct, want 25", lag, n, d)
			}
		})
	}
}

// In one execution, a chunk that a later writer failed is retried: the
// sql writer, which had committed it in a transaction of its own
// (transaction_scope "none"), does not write it again.
func TestRetryAfterOwnCommit(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, genDDL(db.driver, "a", ""))
		failOnce.Store(true)
		res := db.mustRun(t, `
  batch "load" {
    chunk_size = 10
    transaction_scope = "none"
    retry {
      max_attempts = 2
      min_interval = "1ms"
    }
    reader "test_gen" { count = 40 }
    writer "sql" {
      datasource = "db"
      table      = "a"
    }
    writer "test_flaky" {}
  }
  output "rollbacks" { value = step.load.rollback_count }`, nil)
		if got := outputString(res, "rollbacks"); got != "1" {
			t.Errorf("%s rollbacks, want 1 (the flaky writer's)", got)
		}
		if n, d := db.count(t, "a"), db.count(t, "(SELECT DISTINCT id FROM a) d"); n != 40 || d != 40 {
			t.Errorf("%d rows, %d distinct, want 40", n, d)
		}
	})
}

// A transaction step that an earlier execution began runs again from its
// start: its steps that completed then are not restored, since the crash
// rolled their work back.
func TestTransactionResumeStartsOver(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, "CREATE TABLE t (n INT PRIMARY KEY)")
		f := db.load(t, `
  sequential "tx" {
    transaction = "db"
    sql "a" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (1)"]
    }
    sql "b" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (2)"]
    }
  }`, nil)
		j := newCrashJournal()
		j.failAt = func(st flow.StepState) bool { return st.Path == "main/tx/b" && st.Status == flow.Started }
		if res := runDurable(t, f, db.params(nil), j, "exec-1"); res.Status != flow.Failed {
			t.Fatalf("first run: %s %v", res.Status, res.Err)
		}
		if n := db.count(t, "t"); n != 0 {
			t.Fatalf("%d rows after the crash, want 0 (rolled back)", n)
		}
		next := j.next()
		if st, ok := next.Restore("main/tx/a"); !ok || st.Status != flow.Completed {
			t.Fatalf("the journal did not keep step a as completed: %v %v", st.Status, ok)
		}
		if res := runDurable(t, f, db.params(nil), next, "exec-2"); res.Status != flow.Completed {
			t.Fatalf("resumed run: %s %v", res.Status, res.Err)
		}
		if got := fmt.Sprint(db.ints(t, "SELECT n FROM t ORDER BY n")); got != "[1 2]" {
			t.Errorf("rows %s, want [1 2]: step a was restored instead of run again", got)
		}
	})
}

// A step around a batch step that retries runs the batch from scratch:
// the new run has a run key of its own, so the first attempt's markers do
// not hide the rows the second attempt must write again (here after the
// first attempt's rows were deleted).
func TestRetryAroundBatchWritesAgain(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, genDDL(db.driver, "dst", ""))
		batchRuns.Store(0)
		db.mustRun(t, `
  sequential "all" {
    retry {
      max_attempts = 2
      min_interval = "1ms"
    }
    sql "clear" {
      datasource = "db"
      statements = ["DELETE FROM dst"]
    }
    batch "load" {
      chunk_size = 10
      reader "test_gen" { count = 50 }
      processor "test_fail_first_batch" {}
      writer "sql" {
        datasource = "db"
        table      = "dst"
      }
    }
  }`, nil)
		if n, d := db.count(t, "dst"), db.count(t, "(SELECT DISTINCT id FROM dst) d"); n != 50 || d != 50 {
			t.Errorf("%d rows, %d distinct, want 50", n, d)
		}
	})
}
