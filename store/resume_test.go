package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
	"github.com/flowbatch/flow/store/memory"
)

// These tests prove resume semantics in-process, against the memory store
// and a bbolt file that is closed and opened again between executions, so
// that everything a resume uses really went through the disk.
//
// Each scenario makes a step fail on a chosen point (an exec step gated on
// a file, `test -f ok`), creates the gate, resumes, and counts side
// effects: exec steps append a line naming their path, iteration and the
// variables they see to the file "log". After the resume, every line must be
// there exactly once, except the failed step's own, which ran in both
// executions.

// opener gives the store one execution runs against, and the function that
// closes it after that execution.
type opener func(t *testing.T) (store.Store, func())

// eachStore runs fn against a fresh memory store and a fresh bbolt file.
func eachStore(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		st := memory.New()
		fn(t, func(*testing.T) (store.Store, func()) { return st, func() {} })
	})
	t.Run("bolt", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flow.db")
		fn(t, func(t *testing.T) (store.Store, func()) {
			st, err := bolt.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			return st, func() {
				if err := st.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	})
}

// durable runs a flow's executions through store.Begin, Session.Start and
// Session.Wait.
type durable struct {
	t      *testing.T
	dir    string
	f      *flow.Flow
	params map[string]cty.Value
	open   opener
	opts   store.Options
}

func newDurable(t *testing.T, open opener, files map[string]string, params map[string]cty.Value) *durable {
	t.Helper()
	dir := flowtest.Write(t, files)
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return &durable{t: t, dir: dir, f: f, params: params, open: open}
}

// runConfig changes how one execution runs.
type runConfig struct {
	ctx context.Context
	// obs receives the run's events besides the recorder.
	obs flow.Observer
	// wrap wraps the store the session uses.
	wrap func(store.Store) store.Store
	// started is called once the run started, before waiting for it.
	started func(r *flow.Run, s *store.Session)
	// crashed: Session.Wait is expected to fail (the store was cut off).
	crashed bool
}

// execution is one execution run to its end.
type execution struct {
	res  *flow.Result
	sess *store.Session
	rec  *flowtest.Recorder
	// stored is the execution record and steps what it wrote, by path,
	// as read back from the store.
	stored *store.Execution
	steps  map[string]store.StepRecord
}

func (d *durable) run() *execution { return d.runWith(runConfig{}) }

func (d *durable) runWith(c runConfig) *execution {
	t := d.t
	t.Helper()
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	raw, closeStore := d.open(t)
	defer closeStore()
	st := raw
	if c.wrap != nil {
		st = c.wrap(raw)
	}
	sess, err := store.Begin(context.Background(), st, d.f, d.params, d.opts)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	rec := &flowtest.Recorder{}
	eng := flow.NewEngine(flow.Observers{rec, c.obs})
	r, err := sess.Start(ctx, eng, d.f, d.params)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if c.started != nil {
		c.started(r, sess)
	}
	select {
	case <-r.Done():
	case <-time.After(time.Minute):
		t.Fatal("run did not end within a minute")
	}
	res, err := sess.Wait(context.Background(), r, d.f)
	switch {
	case c.crashed && err == nil:
		t.Fatal("wait: the end of a crashed execution was recorded")
	case !c.crashed && err != nil:
		t.Fatalf("wait: %v", err)
	}
	x := &execution{res: res, sess: sess, rec: rec, steps: map[string]store.StepRecord{}}
	if x.stored, err = raw.Execution(context.Background(), sess.Execution.ID); err != nil {
		t.Fatal(err)
	}
	recs, err := raw.Steps(context.Background(), sess.Execution.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		x.steps[r.Path] = r
	}
	return x
}

func (d *durable) touch(name string) {
	d.write(name, "")
}

// write writes a file beside the flow. It may be called from an observer's
// goroutine, so it reports errors without stopping the test.
func (d *durable) write(name, content string) {
	d.t.Helper()
	p := filepath.Join(d.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		d.t.Error(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		d.t.Error(err)
	}
}

// log returns the lines the flow's steps appended to "log".
func (d *durable) log() []string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, "log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// checkLog compares the side effects with want, in order unless unordered.
func (d *durable) checkLog(want []string, unordered bool) {
	d.t.Helper()
	got := d.log()
	if unordered {
		got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	}
	if !slices.Equal(got, want) {
		d.t.Errorf("side effects:\n got %q\nwant %q", got, want)
	}
}

func checkOutputs(t *testing.T, res *flow.Result, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got := flowtest.Output(res, k); got != w {
			t.Errorf("output %s = %s, want %s", k, got, w)
		}
	}
}

// resumeCase is a flow whose first execution fails, and what its resume
// must do.
type resumeCase struct {
	name  string
	files map[string]string // main.flow.hcl and what it reads
	// between changes the world after the failed execution; the gate file
	// "ok" is created anyway.
	between func(d *durable)
	// failed is the step the first execution fails at.
	failed string
	// log lists the side effects of both executions.
	log       []string
	unordered bool
	// outputs are the resumed execution's flow outputs, in HCL syntax.
	outputs map[string]string
	// restored lists steps the resumed execution must restore, not run.
	restored []string
	check    func(t *testing.T, d *durable, first, second *execution)
}

func TestResume(t *testing.T) {
	for _, c := range resumeCases {
		t.Run(c.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, open opener) {
				d := newDurable(t, open, c.files, nil)
				first := d.run()
				if first.res.Status != flow.Failed {
					t.Fatalf("first execution: %s %v", first.res.Status, first.res.Err)
				}
				if first.stored.Status != flow.Failed {
					t.Errorf("first execution stored as %s", first.stored.Status)
				}
				if c.failed != "" && first.stored.FailedStep != c.failed {
					t.Errorf("first execution failed at %q (%s), want %q", first.stored.FailedStep, first.stored.Error, c.failed)
				}
				if c.between != nil {
					c.between(d)
				}
				d.touch("ok")
				second := d.run()
				if second.res.Status != flow.Completed {
					t.Fatalf("resumed execution: %s %v", second.res.Status, second.res.Err)
				}
				if second.sess.Previous == nil || second.sess.Previous.ID != first.sess.Execution.ID {
					t.Errorf("resumed execution does not carry on from execution %d: %+v", first.sess.Execution.ID, second.sess.Previous)
				}
				if second.stored.Status != flow.Completed || second.stored.ResumedFrom != first.sess.Execution.ID {
					t.Errorf("resumed execution stored as %s, resumed from %d", second.stored.Status, second.stored.ResumedFrom)
				}
				d.checkLog(c.log, c.unordered)
				checkOutputs(t, second.res, c.outputs)
				restored := second.rec.Paths(flow.StepRestored)
				for _, p := range c.restored {
					if !slices.Contains(restored, p) {
						t.Errorf("%s not restored; restored: %v", p, restored)
					}
				}
				if c.check != nil {
					c.check(t, d, first, second)
				}
			})
		})
	}
}

var resumeCases = []resumeCase{
	{
		// Children before the failed one are restored with their outputs,
		// and the variables they set are back; a variable a set step
		// declared (declared nowhere else) too.
		name: "sequential",
		files: map[string]string{"main.flow.hcl": `
flow "seq" {
  vars = { a = "", n = 0 }
  exec "one" { command = ["sh", "-c", "echo one >> log; echo out1"] }
  set "s1" { assign = { a = "${var.a}x", n = var.n + 1 } }
  exec "two" { command = ["sh", "-c", "echo two a=${var.a} n=${var.n} >> log"] }
  set "s2" { assign = { a = "${var.a}y", fresh = "f" } }
  exec "three" { command = ["sh", "-c", "echo three a=${var.a} one=${trimspace(step.one.stdout)} fresh=${var.fresh} >> log; test -f ok"] }
  exec "four" { command = ["sh", "-c", "echo four n=${var.n} >> log"] }
  output "a" { value = var.a }
  output "n" { value = var.n }
  output "one" { value = trimspace(step.one.stdout) }
  output "code" { value = step.one.exit_code + 1 }
}`},
		failed: "main/three",
		log: []string{"one", "two a=x n=1",
			"three a=xy one=out1 fresh=f", "three a=xy one=out1 fresh=f", "four n=1"},
		outputs:  map[string]string{"a": `"xy"`, "n": "1", "one": `"out1"`, "code": "1"},
		restored: []string{"main/one", "main/s1", "main/two", "main/s2"},
	},
	{
		// The unfinished sequentials run again from their first
		// unfinished child, with their own vars and what their completed
		// children assigned.
		name: "nested sequentials",
		files: map[string]string{"main.flow.hcl": `
flow "nested" {
  vars = { trail = "" }
  sequential "outer" {
    vars = { depth = 1 }
    exec "o1" { command = ["sh", "-c", "echo o1 >> log"] }
    sequential "inner" {
      vars = { depth = 2, local = "L" }
      set "t1" { assign = { trail = "${var.trail}i", local = "M" } }
      exec "i1" { command = ["sh", "-c", "echo i1 depth=${var.depth} >> log"] }
      exec "i2" { command = ["sh", "-c", "echo i2 trail=${var.trail} local=${var.local} >> log; test -f ok"] }
      output "local" { value = var.local }
    }
    set "t2" { assign = { trail = "${var.trail}o" } }
    exec "o2" { command = ["sh", "-c", "echo o2 depth=${var.depth} local=${step.inner.local} >> log"] }
  }
  exec "last" { command = ["sh", "-c", "echo last trail=${var.trail} >> log"] }
  output "trail" { value = var.trail }
}`},
		failed: "main/outer/inner/i2",
		log: []string{"o1", "i1 depth=2", "i2 trail=i local=M", "i2 trail=i local=M",
			"o2 depth=1 local=M", "last trail=io"},
		outputs:  map[string]string{"trail": `"io"`},
		restored: []string{"main/outer/o1", "main/outer/inner/t1", "main/outer/inner/i1"},
	},
	{
		// With fail_fast = false the other branches complete in the first
		// execution and are restored; the failed branch carries on from its
		// failed child. The parallel's output block sees every branch.
		name: "parallel",
		files: map[string]string{"main.flow.hcl": `
flow "par" {
  parallel "p" {
    fail_fast = false
    exec "a" { command = ["sh", "-c", "echo a >> log; echo A"] }
    sequential "b" {
      exec "b1" { command = ["sh", "-c", "echo b1 >> log; echo B1"] }
      exec "b2" { command = ["sh", "-c", "echo b2 >> log; test -f ok || exit 1; echo B2"] }
      output "v" { value = "${trimspace(step.b1.stdout)}+${trimspace(step.b2.stdout)}" }
    }
    exec "c" { command = ["sh", "-c", "echo c >> log; echo C"] }
    output "all" { value = [trimspace(step.a.stdout), step.b.v, trimspace(step.c.stdout)] }
  }
  output "all" { value = step.p.all }
}`},
		failed:    "main/p/b/b2",
		log:       []string{"a", "b1", "b2", "b2", "c"},
		unordered: true,
		outputs:   map[string]string{"all": `["A", "B1+B2", "C"]`},
		restored:  []string{"main/p/a", "main/p/b/b1", "main/p/c"},
	},
	{
		// A while loop fails in iteration 3 of 5: iterations 0-2 are
		// replayed (not run), iteration 3 carries on from its failed step,
		// and the loop-carried variables go on from their values.
		name: "loop while",
		files: map[string]string{"main.flow.hcl": `
flow "loopw" {
  loop "l" {
    vars  = { i = 0, acc = "", seen = [] }
    while = var.i < 5
    set "inc" { assign = { i = var.i + 1, acc = "${var.acc}${loop.index}", seen = concat(var.seen, [{ at = loop.index }]) } }
    exec "mark" { command = ["sh", "-c", "echo mark${loop.index} i=${var.i} acc=${var.acc} >> log"] }
    exec "gate" { command = ["sh", "-c", "echo gate${loop.index} i=${var.i} >> log; test ${loop.index} != 3 || test -f ok"] }
    output "i" { value = var.i }
    output "acc" { value = var.acc }
    output "seen" { value = var.seen }
  }
  output "i" { value = step.l.i }
  output "acc" { value = step.l.acc }
  output "iterations" { value = step.l.iterations }
  output "seen" { value = [for s in step.l.seen : s.at * 10] }
}`},
		failed: "main/l#3/gate",
		log: []string{
			"mark0 i=1 acc=0", "gate0 i=1",
			"mark1 i=2 acc=01", "gate1 i=2",
			"mark2 i=3 acc=012", "gate2 i=3",
			"mark3 i=4 acc=0123", "gate3 i=4", "gate3 i=4",
			"mark4 i=5 acc=01234", "gate4 i=5"},
		outputs:  map[string]string{"i": "5", "acc": `"01234"`, "iterations": "5", "seen": "[0, 10, 20, 30, 40]"},
		restored: []string{"main/l#0/inc", "main/l#2/gate", "main/l#3/inc", "main/l#3/mark"},
	},
	{
		// until reads a child's output: in the failed iteration that child
		// is restored, and until sees its restored output.
		name: "loop until",
		files: map[string]string{"main.flow.hcl": `
flow "loopu" {
  vars = { total = 0 }
  loop "poll" {
    until = tonumber(trimspace(step.probe.stdout)) >= 3
    exec "probe" { command = ["sh", "-c", "echo probe${loop.index} >> log; echo ${loop.index}"] }
    set "add" { assign = { total = var.total + tonumber(trimspace(step.probe.stdout)) } }
    exec "gate" { command = ["sh", "-c", "echo gate${loop.index} total=${var.total} >> log; test ${loop.index} != 3 || test -f ok"] }
  }
  output "total" { value = var.total }
  output "iterations" { value = step.poll.iterations }
}`},
		failed: "main/poll#3/gate",
		log: []string{"probe0", "gate0 total=0", "probe1", "gate1 total=1", "probe2", "gate2 total=3",
			"probe3", "gate3 total=6", "gate3 total=6"},
		outputs:  map[string]string{"total": "6", "iterations": "4"},
		restored: []string{"main/poll#3/probe", "main/poll#3/add"},
	},
	{
		// The while condition reads a file that changes between the
		// executions. Iterations 0-3 were decided by the first execution
		// (iteration 3 had started when it failed): they are not decided
		// again. Iteration 4 was not decided yet: the new limit ends the
		// loop there.
		name: "loop while reads changed data",
		files: map[string]string{
			"limit": "5",
			"main.flow.hcl": `
flow "loopf" {
  loop "l" {
    while = loop.index < tonumber(trimspace(file("limit")))
    exec "mark" { command = ["sh", "-c", "echo mark${loop.index} >> log"] }
    exec "gate" { command = ["sh", "-c", "echo gate${loop.index} >> log; test ${loop.index} != 3 || test -f ok"] }
  }
  output "iterations" { value = step.l.iterations }
}`},
		between: func(d *durable) { d.write("limit", "2") },
		failed:  "main/l#3/gate",
		log: []string{"mark0", "gate0", "mark1", "gate1", "mark2", "gate2",
			"mark3", "gate3", "gate3"},
		outputs: map[string]string{"iterations": "4"},
	},
	{
		// The choose stays in the branch it took, although its condition
		// now picks another one.
		name: "choose",
		files: map[string]string{
			"mode": "a",
			"main.flow.hcl": `
flow "ch" {
  choose "route" {
    when {
      condition = trimspace(file("mode")) == "a"
      exec "a1" { command = ["sh", "-c", "echo a1 >> log; echo A1"] }
      exec "a2" { command = ["sh", "-c", "echo a2 a1=${trimspace(step.a1.stdout)} >> log; test -f ok"] }
    }
    when {
      condition = trimspace(file("mode")) == "b"
      exec "b1" { command = ["sh", "-c", "echo b1 >> log"] }
    }
    otherwise {
      exec "o1" { command = ["sh", "-c", "echo o1 >> log"] }
    }
  }
  output "branch" { value = step.route.branch }
}`},
		between:  func(d *durable) { d.write("mode", "b") },
		failed:   "main/route/a2",
		log:      []string{"a1", "a2 a1=A1", "a2 a1=A1"},
		outputs:  map[string]string{"branch": "0"},
		restored: []string{"main/route/a1"},
	},
	{
		// Item 2 of 5 fails after the other items completed (its gate
		// waits for them, so none is cancelled): the resume runs only item
		// 2's unfinished steps, and results are complete and in order.
		name: "fork",
		files: map[string]string{"main.flow.hcl": `
flow "fk" {
  fork "f" {
    for_each           = ["a", "b", "c", "d", "e"]
    max_concurrency    = 0
    tolerated_failures = 0
    exec "work" { command = ["sh", "-c", "echo work-${each.value} >> log; echo W${each.value}"] }
    exec "gate" {
      command = ["sh", "-c", <<-SH
        if [ ${each.index} = 2 ]; then
          n=0
          while [ "$(ls done-* 2>/dev/null | wc -l)" -lt 4 ] && [ $n -lt 3000 ]; do sleep 0.01; n=$((n+1)); done
          # The done steps touch their file before they exit: give the
          # engine time to record them completed before this one fails
          # the fork (a step still running then is run again on resume).
          sleep 1
          echo gate-${each.value} >> log
          test -f ok
        fi
      SH
      ]
    }
    exec "done" { command = ["sh", "-c", "echo done-${each.value} >> log; touch done-${each.value}"] }
  }
  output "works" { value = [for r in step.f.results : trimspace(r.work.stdout)] }
  output "failed" { value = step.f.failed }
}`},
		failed: "main/f",
		log: []string{"work-a", "work-b", "work-c", "work-d", "work-e", "gate-c", "gate-c",
			"done-a", "done-b", "done-c", "done-d", "done-e"},
		unordered: true,
		outputs:   map[string]string{"works": `["Wa", "Wb", "Wc", "Wd", "We"]`, "failed": "0"},
		restored:  []string{"main/f[0]/done", "main/f[2]/work", "main/f[4]/done"},
	},
	{
		// for_each lists a directory; a file added between the executions
		// (sorting before the failed item, so that indexes would shift) is
		// not picked up: the fork keeps its items.
		name: "fork over fileset",
		files: map[string]string{
			"in/a.txt": "", "in/b.txt": "", "in/c.txt": "",
			"main.flow.hcl": `
flow "fs" {
  fork "f" {
    for_each        = fileset(".", "in/*.txt")
    max_concurrency = 1
    exec "work" { command = ["sh", "-c", "echo work-${each.value} >> log; echo ${each.value}"] }
    exec "gate" { command = ["sh", "-c", "echo gate-${each.value} >> log; test ${each.value} != in/b.txt || test -f ok"] }
  }
  output "files" { value = [for r in step.f.results : trimspace(r.work.stdout)] }
}`},
		between: func(d *durable) { d.write("in/aa.txt", "") },
		failed:  "main/f",
		log: []string{"work-in/a.txt", "gate-in/a.txt", "work-in/b.txt", "gate-in/b.txt",
			"gate-in/b.txt", "work-in/c.txt", "gate-in/c.txt"},
		outputs:  map[string]string{"files": `["in/a.txt", "in/b.txt", "in/c.txt"]`},
		restored: []string{"main/f[0]/work", "main/f[0]/gate", "main/f[1]/work"},
	},
	{
		// A called flow fails inside: the resume skips the called flow's
		// completed steps, with their outputs and the variables they set.
		// The call step's vars and the called flow's (which share a path)
		// are both those of the failed run.
		name: "call",
		files: map[string]string{
			"stamp": "one",
			"child.flow.hcl": `
flow "child" {
  param "tag" { type = string }
  vars = { n = 0, seen = trimspace(file("stamp")) }
  exec "c1" { command = ["sh", "-c", "echo c1-${param.tag} >> log; echo C1"] }
  set "inc" { assign = { n = var.n + 1 } }
  exec "c2" { command = ["sh", "-c", "echo c2 n=${var.n} c1=${trimspace(step.c1.stdout)} seen=${var.seen} >> log; test -f ok"] }
  output "n" { value = var.n }
  output "c1" { value = trimspace(step.c1.stdout) }
  output "tag" { value = param.tag }
}`,
			"main.flow.hcl": `
flow "caller" {
  exec "before" { command = ["sh", "-c", "echo before >> log"] }
  call "sub" {
    vars   = { tag = "t-${trimspace(file("stamp"))}" }
    flow   = "child.flow.hcl"
    params = { tag = var.tag }
  }
  exec "after" { command = ["sh", "-c", "echo after n=${step.sub.n} c1=${step.sub.c1} tag=${step.sub.tag} >> log"] }
  output "n" { value = step.sub.n }
}`},
		between: func(d *durable) { d.write("stamp", "two") },
		failed:  "main/sub/c2",
		log: []string{"before", "c1-t-one", "c2 n=1 c1=C1 seen=one", "c2 n=1 c1=C1 seen=one",
			"after n=1 c1=C1 tag=t-one"},
		outputs:  map[string]string{"n": "1"},
		restored: []string{"main/before", "main/sub/c1", "main/sub/inc"},
	},
	{
		// A retried leaf that exhausted its attempts: the resumed
		// execution counts its attempts from 1 again.
		name: "retry leaf",
		files: map[string]string{"main.flow.hcl": `
flow "rt" {
  exec "prep" { command = ["sh", "-c", "echo prep >> log"] }
  exec "flaky" {
    retry {
      max_attempts = 2
      strategy     = "constant"
      min_interval = "1ms"
    }
    command = ["sh", "-c", "echo flaky$FLOW_ATTEMPT >> log; test -f ok && test $FLOW_ATTEMPT -ge 2"]
  }
}`},
		failed: "main/flaky",
		log:    []string{"prep", "flaky1", "flaky2", "flaky1", "flaky2"},
		check: func(t *testing.T, d *durable, first, second *execution) {
			for _, x := range []*execution{first, second} {
				if r := x.steps["main/flaky"]; r.Attempt != 2 {
					t.Errorf("execution %d: main/flaky attempt %d, want 2", x.stored.ID, r.Attempt)
				}
			}
			if r := second.steps["main/flaky"]; r.Status != flow.Completed {
				t.Errorf("main/flaky: %s", r.Status)
			}
		},
	},
	{
		// A retried composite: each attempt of the first execution starts
		// the group over (so a ran twice there, by design of retry); the
		// resumed execution's first attempt carries on from what the last
		// attempt completed.
		name: "retry composite",
		files: map[string]string{"main.flow.hcl": `
flow "rtc" {
  sequential "group" {
    retry {
      max_attempts = 2
      strategy     = "constant"
      min_interval = "1ms"
    }
    exec "a" { command = ["sh", "-c", "echo a >> log"] }
    exec "b" { command = ["sh", "-c", "echo b >> log; test -f ok"] }
  }
}`},
		failed:   "main/group/b",
		log:      []string{"a", "b", "a", "b", "b"},
		restored: []string{"main/group/a"},
		check: func(t *testing.T, d *durable, first, second *execution) {
			if r := second.steps["main/group"]; r.Status != flow.Completed || r.Attempt != 1 {
				t.Errorf("main/group: %s attempt %d, want COMPLETED attempt 1", r.Status, r.Attempt)
			}
		},
	},
	{
		// A step failed and its catch handled it in the first execution:
		// the step counts as completed and is restored, catch body
		// included; the variable the catch body set in the flow's vars is
		// back.
		name: "catch completed",
		files: map[string]string{"main.flow.hcl": `
flow "ct" {
  vars = { note = "none" }
  exec "risky" {
    command = ["sh", "-c", "echo risky >> log; exit 3"]
    catch {
      exec "report" { command = ["sh", "-c", "echo report ${error.step} >> log"] }
      set "rec" { assign = { note = "caught" } }
    }
  }
  exec "gate" { command = ["sh", "-c", "echo gate note=${var.note} >> log; test -f ok"] }
  output "note" { value = var.note }
}`},
		failed:   "main/gate",
		log:      []string{"risky", "report main/risky", "gate note=caught", "gate note=caught"},
		outputs:  map[string]string{"note": `"caught"`},
		restored: []string{"main/risky"},
	},
	{
		// The catch body itself fails: the step failed, so it runs again
		// (its own attempt is repeated, as any failed leaf's), and when it
		// fails again its catch handles that new failure from the start:
		// what the failed run's catch completed is forgotten.
		name: "catch failed",
		files: map[string]string{"main.flow.hcl": `
flow "ct2" {
  vars = { note = "none" }
  exec "risky" {
    command = ["sh", "-c", "echo risky >> log; exit 3"]
    catch {
      exec "report" { command = ["sh", "-c", "echo report >> log"] }
      set "rec" { assign = { note = "caught" } }
      exec "gate" { command = ["sh", "-c", "echo gate note=${var.note} >> log; test -f ok"] }
    }
  }
  exec "after" { command = ["sh", "-c", "echo after note=${var.note} >> log"] }
  output "note" { value = var.note }
}`},
		failed:   "main/risky/@catch/gate",
		log:      []string{"risky", "report", "gate note=caught", "risky", "report", "gate note=caught", "after note=caught"},
		outputs:  map[string]string{"note": `"caught"`},
		restored: nil,
	},
	{
		// finally runs its steps after the step, and a failure in there
		// fails the step. The step is not completed, so it runs again on
		// resume, and so does its finally block, from its start: cleanup
		// follows every run of the step (what the failed run's finally
		// completed is forgotten, like a retry's).
		name: "finally",
		files: map[string]string{"main.flow.hcl": `
flow "fin" {
  vars = { cleaned = 0 }
  exec "work" {
    command = ["sh", "-c", "echo work >> log"]
    finally {
      exec "clean" { command = ["sh", "-c", "echo clean >> log"] }
      set "count" { assign = { cleaned = var.cleaned + 1 } }
      exec "gate" { command = ["sh", "-c", "echo gate cleaned=${var.cleaned} >> log; test -f ok"] }
    }
  }
  output "cleaned" { value = var.cleaned }
}`},
		failed:   "main/work/@finally/gate",
		log:      []string{"work", "clean", "gate cleaned=1", "work", "clean", "gate cleaned=1"},
		outputs:  map[string]string{"cleaned": "1"},
		restored: nil,
	},
	{
		// A step skipped by if stays skipped, although its condition now
		// holds.
		name: "if skipped",
		files: map[string]string{"main.flow.hcl": `
flow "sk" {
  exec "maybe" {
    if      = length(fileset(".", "flag")) > 0
    command = ["sh", "-c", "echo maybe >> log"]
  }
  exec "gate" { command = ["sh", "-c", "echo gate >> log; test -f ok"] }
  output "skipped" { value = step.maybe == null }
}`},
		between:  func(d *durable) { d.touch("flag") },
		failed:   "main/gate",
		log:      []string{"gate", "gate"},
		outputs:  map[string]string{"skipped": "true"},
		restored: []string{"main/maybe"},
		check: func(t *testing.T, d *durable, first, second *execution) {
			if r := first.steps["main/maybe"]; r.Status != flow.Skipped {
				t.Errorf("main/maybe: %s, want SKIPPED", r.Status)
			}
		},
	},
	{
		// A step an earlier execution began is finished on resume, although
		// its if would now be false: the condition was decided once.
		name: "if decided once",
		files: map[string]string{"flag": "", "main.flow.hcl": `
flow "ifr" {
  sequential "maybe" {
    if = length(fileset(".", "flag")) > 0
    exec "a" { command = ["sh", "-c", "echo a >> log"] }
    exec "gate" { command = ["sh", "-c", "echo gate >> log; test -f ok"] }
  }
  output "ran" { value = step.maybe != null }
}`},
		between:  func(d *durable) { d.write("flag", ""); _ = os.Remove(filepath.Join(d.dir, "flag")) },
		failed:   "main/maybe/gate",
		log:      []string{"a", "gate", "gate"},
		outputs:  map[string]string{"ran": "true"},
		restored: []string{"main/maybe/a"},
	},
	{
		// The vars of unfinished steps are those of the failed execution,
		// even when their expressions would now give something else: the
		// flow's own vars and a nested sequential's.
		name: "vars of the failed run",
		files: map[string]string{
			"stamp": "one",
			"main.flow.hcl": `
flow "vr" {
  vars = { top = trimspace(file("stamp")) }
  sequential "s" {
    vars = { inner = "in-${trimspace(file("stamp"))}" }
    exec "a" { command = ["sh", "-c", "echo a ${var.top} ${var.inner} >> log"] }
    exec "b" { command = ["sh", "-c", "echo b ${var.top} ${var.inner} >> log; test -f ok"] }
  }
  output "top" { value = var.top }
}`},
		between: func(d *durable) { d.write("stamp", "two") },
		failed:  "main/s/b",
		log:     []string{"a one in-one", "b one in-one", "b one in-one"},
		outputs: map[string]string{"top": `"one"`},
	},
}
