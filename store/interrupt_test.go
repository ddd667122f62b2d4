package store_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// Executions that did not fail but were stopped, aborted or lost with their
// process resume too, against both stores.

// interruptedFlow runs five iterations; in iteration 2 its step hold waits for the
// file "go" (at most 30s), which is where the tests interrupt it. total is a
// flow variable the loop updates.
const interruptedFlow = `
flow "interrupted" {
  vars = { total = 0 }
  loop "l" {
    vars  = { i = 0 }
    while = var.i < 5
    set "inc" { assign = { i = var.i + 1, total = var.total + 10 } }
    exec "mark" { command = ["sh", "-c", "echo mark${loop.index} i=${var.i} >> log"] }
    exec "hold" {
      command = ["sh", "-c", <<-SH
        echo hold${loop.index} >> log
        if [ ${loop.index} = 2 ]; then
          touch holding
          n=0
          while [ ! -f go ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done
        fi
      SH
      ]
    }
    exec "after" { command = ["sh", "-c", "echo after${loop.index} >> log"] }
  }
  exec "end" { command = ["sh", "-c", "echo end total=${var.total} >> log"] }
  output "total" { value = var.total }
}`

// onStart returns an observer that calls fn (once, in its own goroutine)
// when the step at path starts.
func onStart(path string, fn func()) flow.Observer {
	var once atomic.Bool
	return flow.ObserverFunc(func(e flow.Event) {
		if e.Kind == flow.StepStarted && e.Path == path && once.CompareAndSwap(false, true) {
			go fn()
		}
	})
}

// A stop asked for while hold runs lets it finish, starts nothing more, and
// ends the execution STOPPED; the resume runs the rest, nothing twice.
func TestResumeAfterStop(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		d := newDurable(t, open, map[string]string{"main.flow.hcl": interruptedFlow}, nil)
		var run atomic.Pointer[flow.Run]
		ready := make(chan struct{})
		first := d.runWith(runConfig{
			started: func(r *flow.Run, _ *store.Session) { run.Store(r); close(ready) },
			obs: onStart("main/l#2/hold", func() {
				<-ready
				run.Load().Stop()
				d.touch("go")
			}),
		})
		if first.res.Status != flow.Stopped || first.stored.Status != flow.Stopped {
			t.Fatalf("first execution: %s (stored %s) %v", first.res.Status, first.stored.Status, first.res.Err)
		}
		if r := first.steps["main/l#2/hold"]; r.Status != flow.Completed {
			t.Errorf("hold, running when the stop came, ended %s", r.Status)
		}
		if r, ok := first.steps["main/l#2/after"]; ok && r.Status == flow.Completed {
			t.Error("a step started after the stop")
		}
		second := d.run()
		if second.res.Status != flow.Completed {
			t.Fatalf("resumed execution: %s %v", second.res.Status, second.res.Err)
		}
		d.checkLog(loopLog(false), false)
		checkOutputs(t, second.res, map[string]string{"total": "50"})
	})
}

// A stop while fork iterations and a parallel branch run concurrently: the
// steps already running finish, nothing more starts, and the resume runs
// each remaining step once.
func TestResumeAfterStopInFork(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		d := newDurable(t, open, map[string]string{"main.flow.hcl": `
flow "fstop" {
  parallel "p" {
    fork "f" {
      for_each        = range(6)
      max_concurrency = 2
      exec "work" { command = ["sh", "-c", "echo work${each.value} >> log; echo ${each.value}"] }
      exec "hold" {
        command = ["sh", "-c", <<-SH
          echo hold${each.value} >> log
          if [ ${each.value} = 2 ]; then
            touch holding
            n=0
            while [ ! -f go ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done
          fi
        SH
        ]
      }
      exec "after" { command = ["sh", "-c", "echo after${each.value} >> log"] }
    }
    loop "side" {
      vars  = { i = 0 }
      while = var.i < 3
      set "inc" { assign = { i = var.i + 1 } }
      exec "tick" { command = ["sh", "-c", "echo tick${loop.index} i=${var.i} >> log"] }
    }
    output "works" { value = [for r in step.f.results : tonumber(trimspace(r.work.stdout))] }
  }
  output "works" { value = step.p.works }
}`}, nil)
		var run atomic.Pointer[flow.Run]
		ready := make(chan struct{})
		first := d.runWith(runConfig{
			started: func(r *flow.Run, _ *store.Session) { run.Store(r); close(ready) },
			obs: onStart("main/p/f[2]/hold", func() {
				<-ready
				d.await("holding")
				run.Load().Stop()
				d.touch("go")
			}),
		})
		if first.res.Status != flow.Stopped || first.stored.Status != flow.Stopped {
			t.Fatalf("first execution: %s (stored %s) %v", first.res.Status, first.stored.Status, first.res.Err)
		}
		second := d.run()
		if second.res.Status != flow.Completed {
			t.Fatalf("resumed execution: %s %v", second.res.Status, second.res.Err)
		}
		var want []string
		for i := range 6 {
			n := string(rune('0' + i))
			want = append(want, "work"+n, "hold"+n, "after"+n)
		}
		want = append(want, "tick0 i=1", "tick1 i=2", "tick2 i=3")
		d.checkLog(want, true)
		checkOutputs(t, second.res, map[string]string{"works": "[0, 1, 2, 3, 4, 5]"})
	})
}

// `flow stop` goes through the store: the owner's heartbeat sees the
// request and stops the run; a sleep in progress is cut short and counts as
// not done, so it sleeps again on resume.
func TestResumeAfterStopRequest(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		d := newDurable(t, open, map[string]string{
			"nap": "1h",
			"main.flow.hcl": `
flow "nap" {
  exec "a" { command = ["sh", "-c", "echo a >> log"] }
  sleep "nap" { duration = trimspace(file("nap")) }
  exec "b" { command = ["sh", "-c", "echo b >> log"] }
}`}, nil)
		d.opts.Lease = 600 * time.Millisecond // a heartbeat every 200ms
		var st store.Store
		var id atomic.Int64
		ready := make(chan struct{})
		first := d.runWith(runConfig{
			wrap:    func(s store.Store) store.Store { st = s; return s },
			started: func(_ *flow.Run, s *store.Session) { id.Store(s.Execution.ID); close(ready) },
			obs: onStart("main/nap", func() {
				<-ready
				if err := st.RequestStop(context.Background(), id.Load()); err != nil {
					t.Error(err)
				}
			}),
		})
		if first.res.Status != flow.Stopped || first.stored.Status != flow.Stopped {
			t.Fatalf("first execution: %s (stored %s) %v", first.res.Status, first.stored.Status, first.res.Err)
		}
		if r := first.steps["main/nap"]; r.Status != flow.Stopped {
			t.Errorf("nap ended %s, want STOPPED", r.Status)
		}
		d.write("nap", "1ms")
		second := d.run()
		if second.res.Status != flow.Completed {
			t.Fatalf("resumed execution: %s %v", second.res.Status, second.res.Err)
		}
		if r := second.steps["main/nap"]; r.Status != flow.Completed {
			t.Errorf("nap ended %s on resume", r.Status)
		}
		d.checkLog([]string{"a", "b"}, false)
	})
}

// An abort (the run's context cancelled: a second Ctrl-C) kills the exec
// step in progress and ends the execution STOPPED. That step was started
// and not finished: the resume runs it again (at-least-once). Its
// environment tells the two runs apart, so that a command can make itself
// idempotent.
func TestResumeAfterAbort(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		d := newDurable(t, open, map[string]string{"main.flow.hcl": `
flow "abort" {
  exec "a" { command = ["sh", "-c", "echo a >> log"] }
  exec "hold" {
    command = ["sh", "-c", <<-SH
      echo hold exec=$FLOW_EXECUTION_ID path=$FLOW_STEP_PATH attempt=$FLOW_ATTEMPT >> log
      touch holding
      n=0
      while [ ! -f go ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done
    SH
    ]
  }
  exec "b" { command = ["sh", "-c", "echo b >> log"] }
}`}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		first := d.runWith(runConfig{ctx: ctx, obs: onStart("main/hold", func() { d.await("holding"); cancel() })})
		if first.res.Status != flow.Stopped || first.stored.Status != flow.Stopped {
			t.Fatalf("first execution: %s (stored %s) %v", first.res.Status, first.stored.Status, first.res.Err)
		}
		if r := first.steps["main/hold"]; r.Status != flow.Stopped {
			t.Errorf("hold ended %s, want STOPPED", r.Status)
		}
		d.touch("go")
		second := d.run()
		if second.res.Status != flow.Completed {
			t.Fatalf("resumed execution: %s %v", second.res.Status, second.res.Err)
		}
		d.checkLog([]string{"a",
			"hold exec=" + first.sess.ExecutionID() + " path=main/hold attempt=1",
			"hold exec=" + second.sess.ExecutionID() + " path=main/hold attempt=1",
			"b"}, false)
	})
}

// crashable cuts a store off the way the death of its process would: once
// crashed, no commit or heartbeat reaches it, so the execution stays
// STARTED with whatever was committed last. With deadPID, executions begun
// through it are owned by that (dead) process id.
type crashable struct {
	store.Store
	crashed atomic.Bool
	deadPID int
}

var errCrashed = errors.New("the process is gone")

func (c *crashable) Begin(ctx context.Context, req store.BeginRequest) (*store.Begun, error) {
	if c.deadPID != 0 {
		req.Owner.PID = c.deadPID
	}
	return c.Store.Begin(ctx, req)
}

func (c *crashable) Commit(ctx context.Context, id int64, e *store.Execution, recs []store.StepRecord) error {
	if c.crashed.Load() {
		return errCrashed
	}
	return c.Store.Commit(ctx, id, e, recs)
}

func (c *crashable) Heartbeat(ctx context.Context, id int64, token string, until time.Time) (bool, error) {
	if c.crashed.Load() {
		return false, errCrashed
	}
	return c.Store.Heartbeat(ctx, id, token, until)
}

// await waits (at most 30s) for the flow to create the file name: a
// command has got that far.
func (d *durable) await(name string) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(d.dir, name)); err == nil {
			return
		}
	}
	d.t.Errorf("%s did not appear", name)
}

// deadPID returns the id of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// A crash in iteration 2, while hold runs, leaves the execution STARTED.
// The next Begin detects the dead owner (its lease ended, or its process is
// gone), marks that execution FAILED and resumes it. Steps completed before
// the crash do not run again; hold, which was STARTED but not finished, runs
// again: exec steps are at-least-once when a crash interrupts them.
func TestResumeAfterCrash(t *testing.T) {
	for _, mode := range []string{"lease expired", "owner process dead"} {
		t.Run(mode, func(t *testing.T) {
			eachStore(t, func(t *testing.T, open opener) {
				d := newDurable(t, open, map[string]string{"main.flow.hcl": interruptedFlow}, nil)
				c := &crashable{}
				if mode == "lease expired" {
					d.opts.Lease = time.Second // our own pid is alive: only the lease can end
				} else {
					c.deadPID = deadPID(t) // the default lease (30s) is far from over
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				first := d.runWith(runConfig{
					ctx:     ctx,
					crashed: true,
					wrap:    func(s store.Store) store.Store { c.Store = s; return c },
					// Cut the store off, then end the run (killing hold)
					// so that its goroutines are gone: nothing more is
					// written, as after a kill -9.
					obs: onStart("main/l#2/hold", func() { d.await("holding"); c.crashed.Store(true); cancel() }),
				})
				if first.stored.Status != flow.Started {
					t.Fatalf("crashed execution stored as %s", first.stored.Status)
				}
				if r := first.steps["main/l#2/hold"]; r.Status != flow.Started {
					t.Errorf("hold stored as %s, want STARTED", r.Status)
				}
				if r := first.steps["main/l#2/mark"]; r.Status != flow.Completed {
					t.Errorf("mark before the crash stored as %s, want COMPLETED", r.Status)
				}
				if mode == "lease expired" {
					waitLease(t, d, first.stored)
				}
				d.touch("go")
				d.opts.Lease = 0
				second := d.run()
				if second.res.Status != flow.Completed {
					t.Fatalf("resumed execution: %s %v", second.res.Status, second.res.Err)
				}
				prev := second.sess.Previous
				if prev == nil || prev.ID != first.stored.ID || prev.Status != flow.Failed || !strings.Contains(prev.Error, "died or lost its lease") {
					t.Errorf("previous execution: %+v", prev)
				}
				d.checkLog(loopLog(true), false)
				checkOutputs(t, second.res, map[string]string{"total": "50"})
			})
		})
	}
}

// waitLease checks that the crashed execution is refused while its lease
// runs, then waits until it has ended.
func waitLease(t *testing.T, d *durable, e *store.Execution) {
	t.Helper()
	st, closeStore := d.open(t)
	defer closeStore()
	if time.Until(e.Owner.Until) > 200*time.Millisecond {
		_, err := store.Begin(context.Background(), st, d.f, d.params, store.Options{})
		if !errors.Is(err, store.ErrOwned) {
			t.Errorf("begin while the lease runs: %v, want ErrOwned", err)
		}
	} else {
		t.Logf("lease ends too soon (%v) to check that it is respected", e.Owner.Until)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := st.Execution(context.Background(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(cur.Owner.Until) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease of execution %d does not end: %v", e.ID, cur.Owner.Until)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loopLog is the side effects of interruptedFlow run to the end once, with hold of
// iteration 2 twice when it was interrupted.
func loopLog(holdTwice bool) []string {
	var out []string
	for i := range 5 {
		n := string(rune('0' + i))
		out = append(out, "mark"+n+" i="+string(rune('1'+i)), "hold"+n)
		if i == 2 && holdTwice {
			out = append(out, "hold"+n)
		}
		out = append(out, "after"+n)
	}
	return append(out, "end total=50")
}
