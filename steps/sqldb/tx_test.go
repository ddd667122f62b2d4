package sqldb_test

import (
	"reflect"
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

func TestTransactionCommitAndRollback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		status flow.Status
		want   []int64
	}{
		{"commit", `
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
    sql "seen" {
      datasource = "db"
      query = "SELECT COUNT(*) AS n FROM t"
    }
    output "seen" { value = step.seen.rows[0].n }
  }
  output "seen" { value = step.tx.seen }`, flow.Completed, []int64{1, 2}},
		{"rollback on failure", `
  sequential "tx" {
    transaction = "db"
    sql "a" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (1)"]
    }
    fail "boom" { message = "no" }
  }`, flow.Failed, nil},
		{"rollback on timeout", `
  sequential "tx" {
    transaction = "db"
    timeout = "100ms"
    sql "a" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (1)"]
    }
    sleep "wait" { duration = "30s" }
  }`, flow.Failed, nil},
		{"savepoint", `
  sequential "tx" {
    transaction = "db"
    sql "a" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (1)"]
    }
    sequential "inner" {
      transaction = "db"
      sql "b" {
        datasource = "db"
        statements = ["INSERT INTO t VALUES (2)"]
      }
      fail "boom" { message = "undo the inner part only" }
      catch {
        log "caught" { message = error.message }
      }
    }
    sequential "inner2" {
      transaction = "db"
      sql "c" {
        datasource = "db"
        statements = ["INSERT INTO t VALUES (3)"]
      }
    }
  }`, flow.Completed, []int64{1, 3}},
		{"savepoint after a database error", `
  sequential "tx" {
    transaction = "db"
    sql "a" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (1)"]
    }
    sql "dup" {
      transaction = "db"
      datasource = "db"
      statements = ["INSERT INTO t VALUES (1)"]
      catch {
        log "caught" { message = error.message }
      }
    }
    sql "c" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (3)"]
    }
  }`, flow.Completed, []int64{1, 3}},
		{"parallel branches share it", `
  parallel "tx" {
    transaction = "db"
    sql "a" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (1)"]
    }
    sql "b" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (2)"]
    }
    sql "c" {
      datasource = "db"
      query = "SELECT n FROM t"
    }
  }`, flow.Completed, []int64{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *testDB) {
				db.exec(t, "CREATE TABLE t (n INT PRIMARY KEY)")
				res, _ := db.run(t, tc.body, nil)
				if res.Status != tc.status {
					t.Fatalf("status %s (%v), want %s", res.Status, res.Err, tc.status)
				}
				if got := db.ints(t, "SELECT n FROM t ORDER BY n"); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("rows %v, want %v", got, tc.want)
				}
				if tc.name == "commit" {
					// The steps inside see their own uncommitted rows.
					if got := flowtest.Output(res, "seen"); got != "2" {
						t.Errorf("inside the transaction, %s rows seen", got)
					}
				}
			})
		})
	}
}

// With retry, every attempt is a transaction of its own: the rows of a
// failed attempt are gone, those of the successful one stay.
func TestTransactionRetry(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		db.exec(t, "CREATE TABLE t (n INT)")
		res, rec := db.run(t, `
  sequential "tx" {
    transaction = "db"
    retry {
      max_attempts = 3
      min_interval = "1ms"
    }
    sql "a" {
      datasource = "db"
      statements = ["INSERT INTO t VALUES (7)"]
    }
    exec "flaky" {
      command = ["sh", "-c", "n=$(cat attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > attempts; [ $n -ge 3 ]"]
    }
  }`, nil)
		if res.Status != flow.Completed {
			t.Fatalf("status %s: %v", res.Status, res.Err)
		}
		if n := len(rec.Of(flow.StepRetrying)); n != 2 {
			t.Errorf("%d retries, want 2", n)
		}
		if got := db.ints(t, "SELECT n FROM t"); !reflect.DeepEqual(got, []int64{7}) {
			t.Errorf("rows %v, want one row from the third attempt", got)
		}
	})
}
