package decorators_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// hang is how long a test waits for something that should be prompt before
// it calls the run hung. It is no timing assertion: only a hang reaches it.
const hang = 20 * time.Second

// flakyScript counts its runs in the file $1 and fails (exit 3) until the
// count reaches $2.
const flakyScript = `n=$(cat "$1" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1"; ` +
	`if [ $n -lt $2 ]; then echo "attempt $n failed" >&2; exit 3; fi; echo "ok after $n"`

// counterParams returns the params of a flow using flakyScript, and the path
// of its counter file.
func counterParams(t *testing.T, succeedOn int) (map[string]cty.Value, string) {
	t.Helper()
	counter := filepath.Join(t.TempDir(), "count")
	return map[string]cty.Value{
		"script":     cty.StringVal(flakyScript),
		"counter":    cty.StringVal(counter),
		"succeed_on": cty.NumberIntVal(int64(succeedOn)),
	}, counter
}

const counterDecl = `
  param "script" { type = string }
  param "counter" { type = string }
  param "succeed_on" { type = number }
`

// runs reads how many times flakyScript ran.
func runs(t *testing.T, counter string) int {
	t.Helper()
	b, err := os.ReadFile(counter)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("counter file: %v", err)
	}
	return n
}

func wantStatus(t *testing.T, res *flow.Result, want flow.Status) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("status = %s, want %s (err: %v)", res.Status, want, res.Err)
	}
}

func wantKind(t *testing.T, res *flow.Result, kind string) {
	t.Helper()
	if res.Err == nil {
		t.Fatalf("no error; want one of kind %q", kind)
	}
	if got := flow.KindOf(res.Err); got != kind {
		t.Fatalf("error kind = %q, want %q (err: %v)", got, kind, res.Err)
	}
}

func wantOutput(t *testing.T, res *flow.Result, name, want string) {
	t.Helper()
	if got := flowtest.Output(res, name); got != want {
		t.Errorf("output %s = %s, want %s", name, got, want)
	}
}

func wantMessages(t *testing.T, rec *flowtest.Recorder, want ...string) {
	t.Helper()
	if got := rec.Messages(); !slices.Equal(got, want) {
		t.Errorf("log messages = %q, want %q", got, want)
	}
}

// started runs f in the background; it returns the run and a channel that
// receives every event of the given kind.
func started(t *testing.T, ctx context.Context, src string, kind flow.EventKind, params map[string]cty.Value) (*flow.Run, *flowtest.Recorder, <-chan flow.Event) {
	t.Helper()
	rec := &flowtest.Recorder{}
	ch := make(chan flow.Event, 100)
	obs := flow.Observers{rec, flow.ObserverFunc(func(e flow.Event) {
		if e.Kind == kind {
			ch <- e
		}
	})}
	r, err := flow.NewEngine(obs).Start(ctx, flowtest.Load(t, src), flow.RunOptions{Params: params})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		r.Stop()
		select {
		case <-r.Done():
		case <-time.After(hang):
			t.Errorf("run did not stop within %s", hang)
		}
	})
	return r, rec, ch
}

func await(t *testing.T, ch <-chan flow.Event, what string) flow.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(hang):
		t.Fatalf("no %s within %s", what, hang)
		return flow.Event{}
	}
}

func finish(t *testing.T, r *flow.Run) *flow.Result {
	t.Helper()
	select {
	case <-r.Done():
		return r.Wait()
	case <-time.After(hang):
		t.Fatalf("run did not end within %s", hang)
		return nil
	}
}

func TestRegister(t *testing.T) {
	reg := flow.NewRegistry()
	decorators.Register(reg)
	var names []string
	for _, d := range reg.DecoratorTypes() {
		names = append(names, d.Name)
	}
	// DecoratorTypes lists them outermost first: the documented order.
	if want := []string{"if", "finally", "catch", "retry", "timeout"}; !slices.Equal(names, want) {
		t.Errorf("decorators outermost first = %v, want %v", names, want)
	}
}

// ---- if ----

func TestIf(t *testing.T) {
	tests := []struct {
		name     string
		vars     string
		cond     string
		status   flow.Status
		kind     string
		messages []string
		out      string
	}{
		{name: "true runs", vars: `{ go = true }`, cond: `var.go`, status: flow.Completed,
			messages: []string{"ran", "after: ran"}, out: `"ran"`},
		{name: "false skips", vars: `{ go = false }`, cond: `var.go`, status: flow.Completed,
			messages: []string{"after: null"}, out: `null`},
		{name: "string true converts", vars: `{ go = "true" }`, cond: `var.go`, status: flow.Completed,
			messages: []string{"ran", "after: ran"}, out: `"ran"`},
		{name: "null fails", vars: `{ go = null }`, cond: `var.go`, status: flow.Failed, kind: flow.KindEval},
		{name: "not a bool fails", vars: `{ go = "maybe" }`, cond: `var.go`, status: flow.Failed, kind: flow.KindEval},
		{name: "erroring expression fails", vars: `{ go = {} }`, cond: `var.go.missing`, status: flow.Failed, kind: flow.KindEval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := flowtest.Run(t, `
flow "t" {
  vars = `+tt.vars+`
  log "x" {
    if      = `+tt.cond+`
    message = "ran"
  }
  log "after" {
    message = "after: ${step.x == null ? "null" : step.x.message}"
  }
  output "x" { value = step.x == null ? null : step.x.message }
}`, nil)
			wantStatus(t, res, tt.status)
			if tt.status == flow.Failed {
				wantKind(t, res, tt.kind)
				if !strings.Contains(res.Err.Error(), "main/x") {
					t.Errorf("error %q does not name the step main/x", res.Err)
				}
				if got := rec.Messages(); len(got) != 0 {
					t.Errorf("steps ran after a failed if: %q", got)
				}
				return
			}
			wantMessages(t, rec, tt.messages...)
			wantOutput(t, res, "x", tt.out)
			skipped := rec.Paths(flow.StepSkipped)
			if tt.out == "null" {
				if !slices.Equal(skipped, []string{"main/x"}) {
					t.Errorf("skipped = %v, want [main/x]", skipped)
				}
				if got := rec.Paths(flow.StepCompleted); slices.Contains(got, "main/x") {
					t.Errorf("a skipped step also completed: %v", got)
				}
			} else if len(skipped) != 0 {
				t.Errorf("skipped = %v, want none", skipped)
			}
		})
	}
}

// The condition is evaluated in the scope around the step, not in the
// step's own scope: a step's vars cannot decide whether it runs.
func TestIfUsesOuterScope(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  vars = { go = false }
  sequential "s" {
    vars = { go = true }
    if   = var.go
    log "inner" { message = "inner ran" }
  }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantMessages(t, rec)
	if got := rec.Paths(flow.StepSkipped); !slices.Equal(got, []string{"main/s"}) {
		t.Errorf("skipped = %v, want [main/s]", got)
	}
}

// A skipped composite starts none of its children, its catch nor its
// finally.
func TestIfSkipsDecoratorsAndChildren(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  sequential "s" {
    if = false
    fail "boom" { message = "should not run" }
    catch {
      log "c" { message = "catch" }
    }
    finally {
      log "f" { message = "finally" }
    }
  }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantMessages(t, rec)
	if got := rec.Paths(flow.StepStarted); slices.Contains(got, "main/s/boom") {
		t.Errorf("child of a skipped step started: %v", got)
	}
}

// ---- timeout ----

func TestTimeout(t *testing.T) {
	tests := []struct {
		name   string
		step   string
		status flow.Status
		msg    string
	}{
		{name: "slow sleep times out", status: flow.Failed, msg: "timed out after 50ms",
			step: `sleep "s" {
    timeout  = "50ms"
    duration = "1h"
  }`},
		{name: "slow exec times out", status: flow.Failed, msg: "timed out after 100ms",
			step: `exec "s" {
    timeout = "100ms"
    command = ["sleep", "60"]
  }`},
		{name: "slow composite times out", status: flow.Failed, msg: "timed out after 50ms",
			step: `sequential "s" {
    timeout = "50ms"
    sleep "inner" { duration = "1h" }
  }`},
		{name: "fast passes", status: flow.Completed,
			step: `sleep "s" {
    timeout  = "10s"
    duration = "1ms"
  }`},
		{name: "fast exec passes", status: flow.Completed,
			step: `exec "s" {
    timeout = "10s"
    command = ["true"]
  }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := flowtest.Run(t, `
flow "t" {
  `+tt.step+`
  log "after" { message = "after" }
}`, nil)
			wantStatus(t, res, tt.status)
			if tt.status == flow.Completed {
				wantMessages(t, rec, "after")
				return
			}
			wantKind(t, res, flow.KindTimeout)
			if !strings.Contains(res.Err.Error(), tt.msg) || flow.StepOf(res.Err) != "main/s" {
				t.Errorf("error = %q (step %q), want %q at main/s", res.Err, flow.StepOf(res.Err), tt.msg)
			}
			wantMessages(t, rec)
		})
	}
}

// A step that fails on its own before its timeout keeps its own error kind.
func TestTimeoutKeepsOtherFailures(t *testing.T) {
	res, _ := flowtest.Run(t, `
flow "t" {
  fail "f" {
    timeout = "10s"
    message = "own failure"
  }
}`, nil)
	wantStatus(t, res, flow.Failed)
	wantKind(t, res, flow.KindFail)
	if !strings.Contains(res.Err.Error(), "own failure") {
		t.Errorf("err = %v", res.Err)
	}
}

func TestTimeoutBadDuration(t *testing.T) {
	for _, d := range []string{`"soon"`, `"-1s"`} {
		t.Run(d, func(t *testing.T) {
			res, rec := flowtest.Run(t, `
flow "t" {
  vars = { limit = `+d+` }
  log "x" {
    timeout = var.limit
    message = "ran"
  }
}`, nil)
			wantStatus(t, res, flow.Failed)
			wantKind(t, res, flow.KindEval)
			wantMessages(t, rec)
		})
	}
}

// Under retry each attempt gets the whole timeout: three attempts of 500ms
// each under a 1200ms timeout take longer than the timeout in all, yet none
// times out (the margin is wide so that a loaded machine does not make an
// attempt time out).
func TestTimeoutIsPerAttempt(t *testing.T) {
	params, counter := counterParams(t, 3)
	res, rec := flowtest.Run(t, `
flow "t" {`+counterDecl+`
  exec "slow" {
    command = ["sh", "-c", "sleep 0.5; ${param.script}", "sh", param.counter, param.succeed_on]
    timeout = "1200ms"
    retry {
      max_attempts = 3
      strategy     = "constant"
      min_interval = "1ms"
    }
  }
  output "out" { value = trimspace(step.slow.stdout) }
}`, params)
	wantStatus(t, res, flow.Completed)
	wantOutput(t, res, "out", `"ok after 3"`)
	if n := runs(t, counter); n != 3 {
		t.Errorf("ran %d times, want 3", n)
	}
	for _, e := range rec.Of(flow.StepRetrying) {
		if k := flow.KindOf(e.Err); k != flow.KindExit {
			t.Errorf("attempt %d failed with kind %q, want exit: %v", e.Attempt, k, e.Err)
		}
	}
}

// Each attempt that runs out of time is retried; the error after the last is
// the timeout.
func TestTimeoutEveryAttempt(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  sleep "s" {
    duration = "1h"
    timeout  = "20ms"
    retry {
      max_attempts = 3
      strategy     = "constant"
      min_interval = "1ms"
    }
  }
}`, nil)
	wantStatus(t, res, flow.Failed)
	wantKind(t, res, flow.KindTimeout)
	retrying := rec.Of(flow.StepRetrying)
	if len(retrying) != 2 {
		t.Fatalf("retrying events = %d, want 2", len(retrying))
	}
	for _, e := range retrying {
		if flow.KindOf(e.Err) != flow.KindTimeout {
			t.Errorf("attempt %d: kind %q, want timeout", e.Attempt, flow.KindOf(e.Err))
		}
	}
}

// ---- retry ----

func TestRetryMaxAttempts(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		succeedOn int
		status    flow.Status
		runs      int
	}{
		{"succeeds on the last attempt", 3, 3, flow.Completed, 3},
		{"succeeds early", 5, 2, flow.Completed, 2},
		{"first try", 3, 1, flow.Completed, 1},
		{"exhausted", 2, 3, flow.Failed, 2},
		{"one attempt means no retry", 1, 2, flow.Failed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, counter := counterParams(t, tt.succeedOn)
			res, rec := flowtest.Run(t, `
flow "t" {`+counterDecl+`
  exec "flaky" {
    command = ["sh", "-c", param.script, "sh", param.counter, param.succeed_on]
    retry {
      max_attempts = `+strconv.Itoa(tt.max)+`
      strategy     = "constant"
      min_interval = "1ms"
    }
  }
  output "out" { value = trimspace(step.flaky.stdout) }
}`, params)
			wantStatus(t, res, tt.status)
			if n := runs(t, counter); n != tt.runs {
				t.Errorf("ran %d times, want %d", n, tt.runs)
			}
			retrying := rec.Of(flow.StepRetrying)
			if len(retrying) != tt.runs-1 {
				t.Errorf("retrying events = %d, want %d", len(retrying), tt.runs-1)
			}
			for i, e := range retrying {
				if e.Attempt != i+1 || e.Path != "main/flaky" || e.Err == nil {
					t.Errorf("retrying event %d: attempt %d path %q err %v", i, e.Attempt, e.Path, e.Err)
				}
			}
			if tt.status == flow.Completed {
				wantOutput(t, res, "out", strconv.Quote("ok after "+strconv.Itoa(tt.runs)))
				return
			}
			wantKind(t, res, flow.KindExit)
			if want := "attempt " + strconv.Itoa(tt.runs) + " failed"; !strings.Contains(res.Err.Error(), want) {
				t.Errorf("error %q is not the last attempt's (%q)", res.Err, want)
			}
		})
	}
}

// The default policy makes three attempts.
func TestRetryDefaults(t *testing.T) {
	params, counter := counterParams(t, 10)
	// min_interval is the only default changed, to keep the test quick.
	res, rec := flowtest.Run(t, `
flow "t" {`+counterDecl+`
  exec "flaky" {
    command = ["sh", "-c", param.script, "sh", param.counter, param.succeed_on]
    retry { min_interval = "1ms" }
  }
}`, params)
	wantStatus(t, res, flow.Failed)
	if n := runs(t, counter); n != 3 {
		t.Errorf("ran %d times, want 3 by default", n)
	}
	// exponential by default: 1ms, then 2ms.
	var delays []time.Duration
	for _, e := range rec.Of(flow.StepRetrying) {
		delays = append(delays, e.Delay)
	}
	if want := []time.Duration{time.Millisecond, 2 * time.Millisecond}; !slices.Equal(delays, want) {
		t.Errorf("delays = %v, want %v", delays, want)
	}
}

func TestRetryEventDelays(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		strategy string
		want     []time.Duration
	}{
		{"constant", []time.Duration{2 * ms, 2 * ms, 2 * ms}},
		{"linear", []time.Duration{2 * ms, 4 * ms, 5 * ms}},
		{"exponential", []time.Duration{2 * ms, 4 * ms, 5 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			res, rec := flowtest.Run(t, `
flow "t" {
  fail "f" {
    message = "always"
    retry {
      max_attempts = 4
      strategy     = "`+tt.strategy+`"
      min_interval = "2ms"
      max_interval = "5ms"
    }
  }
}`, nil)
			wantStatus(t, res, flow.Failed)
			wantKind(t, res, flow.KindFail)
			var delays []time.Duration
			var attempts []int
			for _, e := range rec.Of(flow.StepRetrying) {
				delays = append(delays, e.Delay)
				attempts = append(attempts, e.Attempt)
				if flow.MessageOf(e.Err) != "always" {
					t.Errorf("retrying event error = %v", e.Err)
				}
			}
			if !slices.Equal(delays, tt.want) || !slices.Equal(attempts, []int{1, 2, 3}) {
				t.Errorf("delays %v attempts %v, want %v and [1 2 3]", delays, attempts, tt.want)
			}
		})
	}
}

// retry's if sees error.* and decides which failures are retried.
func TestRetryIf(t *testing.T) {
	tests := []struct {
		name    string
		step    string
		retries int
		kind    string
	}{
		{name: "exit is retried", retries: 2, kind: flow.KindExit,
			step: `exec "s" {
    command = ["sh", "-c", "exit 4"]`},
		{name: "fail is not", retries: 0, kind: flow.KindFail,
			step: `fail "s" {
    message = "no"`},
		{name: "timeout is not", retries: 0, kind: flow.KindTimeout,
			step: `sleep "s" {
    duration = "1h"
    timeout  = "10ms"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := flowtest.Run(t, `
flow "t" {
  `+tt.step+`
    retry {
      max_attempts = 3
      min_interval = "1ms"
      if           = error.kind == "exit" && error.step == "main/s"
    }
  }
}`, nil)
			wantStatus(t, res, flow.Failed)
			wantKind(t, res, tt.kind)
			if got := len(rec.Of(flow.StepRetrying)); got != tt.retries {
				t.Errorf("retries = %d, want %d", got, tt.retries)
			}
		})
	}
}

func TestRetryIfMessage(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  fail "s" {
    message = "transient: try later"
    retry {
      max_attempts = 3
      min_interval = "1ms"
      if           = trimprefix(error.message, "transient") != error.message
    }
  }
}`, nil)
	wantStatus(t, res, flow.Failed)
	if got := len(rec.Of(flow.StepRetrying)); got != 2 {
		t.Errorf("retries = %d, want 2", got)
	}
}

// Bad policies fail the step before it runs.
func TestRetryBadPolicy(t *testing.T) {
	tests := []struct{ name, vars, attr string }{
		{"zero attempts", `{ v = 0 }`, `max_attempts = var.v`},
		{"fractional attempts", `{ v = 1.5 }`, `max_attempts = var.v`},
		{"unknown strategy", `{ v = "fibonacci" }`, `strategy = var.v`},
		{"bad interval", `{ v = "often" }`, `min_interval = var.v`},
		{"jitter above 1", `{ v = 2 }`, `jitter = var.v`},
		{"negative jitter", `{ v = -0.5 }`, `jitter = var.v`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := flowtest.Run(t, `
flow "t" {
  vars = `+tt.vars+`
  log "s" {
    message = "ran"
    retry { `+tt.attr+` }
  }
}`, nil)
			wantStatus(t, res, flow.Failed)
			wantKind(t, res, flow.KindEval)
			wantMessages(t, rec)
		})
	}
}

// An if error while deciding on a retry fails the step with that error.
func TestRetryIfError(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  vars = { v = null }
  fail "s" {
    message = "boom"
    retry {
      min_interval = "1ms"
      if           = var.v.missing
    }
  }
}`, nil)
	wantStatus(t, res, flow.Failed)
	wantKind(t, res, flow.KindEval)
	if got := len(rec.Of(flow.StepRetrying)); got != 0 {
		t.Errorf("retries = %d, want 0", got)
	}
}

// A skipped step is not retried.
func TestRetrySkipped(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  fail "s" {
    if      = false
    message = "boom"
    retry { min_interval = "1ms" }
  }
}`, nil)
	wantStatus(t, res, flow.Completed)
	if got := len(rec.Of(flow.StepRetrying)); got != 0 {
		t.Errorf("retries = %d, want 0", got)
	}
}

// FLOW_ATTEMPT tells the command which attempt it is.
func TestRetryAttemptEnv(t *testing.T) {
	res, _ := flowtest.Run(t, `
flow "t" {
  exec "s" {
    command = ["sh", "-c", "echo $FLOW_ATTEMPT; [ $FLOW_ATTEMPT -ge 2 ]"]
    retry {
      min_interval = "1ms"
    }
  }
  output "attempt" { value = trimspace(step.s.stdout) }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantOutput(t, res, "attempt", `"2"`)
}

// A stop asked for during the wait between attempts ends the wait at once;
// the run is STOPPED and the step is not tried again.
func TestRetryStopDuringBackoff(t *testing.T) {
	params, counter := counterParams(t, 10)
	r, rec, retrying := started(t, context.Background(), `
flow "t" {`+counterDecl+`
  exec "flaky" {
    command = ["sh", "-c", param.script, "sh", param.counter, param.succeed_on]
    retry {
      max_attempts = 5
      min_interval = "1h"
      max_interval = "1h"
    }
    catch {
      log "caught" { message = "caught" }
    }
  }
  log "after" { message = "after" }
}`, flow.StepRetrying, params)
	e := await(t, retrying, "retry")
	if e.Delay != time.Hour || e.Attempt != 1 {
		t.Errorf("retrying event: delay %s attempt %d, want 1h and 1", e.Delay, e.Attempt)
	}
	r.Stop()
	res := finish(t, r)
	wantStatus(t, res, flow.Stopped)
	wantKind(t, res, flow.KindCancelled)
	if n := runs(t, counter); n != 1 {
		t.Errorf("ran %d times, want 1", n)
	}
	wantMessages(t, rec) // neither caught nor after
}

// A cancelled context ends the wait too.
func TestRetryCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _, retrying := started(t, ctx, `
flow "t" {
  fail "s" {
    message = "boom"
    retry {
        min_interval = "1h"
        max_interval = "1h"
      }
  }
}`, flow.StepRetrying, nil)
	await(t, retrying, "retry")
	cancel()
	res := finish(t, r)
	wantStatus(t, res, flow.Stopped)
}

// A parent's timeout that fires while a child waits between retries fails
// the run with kind timeout at once; it does not wait out the back-off.
func TestTimeoutDuringRetryBackoff(t *testing.T) {
	r, rec, retrying := started(t, context.Background(), `
flow "t" {
  sequential "parent" {
    timeout = "300ms"
    fail "child" {
      message = "boom"
      retry {
        max_attempts = 3
        min_interval = "1h"
        max_interval = "1h"
      }
    }
  }
  log "after" { message = "after" }
}`, flow.StepRetrying, nil)
	if e := await(t, retrying, "retry"); e.Path != "main/parent/child" {
		t.Errorf("retrying path = %q", e.Path)
	}
	res := finish(t, r)
	wantStatus(t, res, flow.Failed)
	wantKind(t, res, flow.KindTimeout)
	if !strings.Contains(res.Err.Error(), "timed out after 300ms") || flow.StepOf(res.Err) != "main/parent" {
		t.Errorf("err = %q (step %q), want a 300ms timeout of main/parent", res.Err, flow.StepOf(res.Err))
	}
	if d := res.Ended.Sub(res.Started); d > hang {
		t.Errorf("run took %s: the back-off was waited out", d)
	}
	wantMessages(t, rec)
}

// The same with a catch on the parent: the timeout is what it catches.
func TestTimeoutDuringRetryBackoffCaught(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  sequential "parent" {
    timeout = "100ms"
    fail "child" {
      message = "boom"
      retry {
        min_interval = "1h"
        max_interval = "1h"
      }
    }
    catch {
      log "caught" { message = "${error.kind}: ${error.message}" }
    }
  }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantMessages(t, rec, "timeout: timed out after 100ms")
}

// ---- catch ----

func TestCatch(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  sequential "s" {
    log "before" { message = "before" }
    fail "boom" { message = "it broke" }
    log "unreached" { message = "unreached" }
    catch {
      log "c" { message = "${error.kind}|${error.step}|${error.message}" }
    }
  }
  log "after" {
    message = "after: ${step.s == null ? "null" : "not null"}"
  }
  output "s" { value = step.s }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantMessages(t, rec, "before", "fail|main/s/boom|it broke", "after: null")
	wantOutput(t, res, "s", "null")
	if got := rec.Paths(flow.StepRecovered); !slices.Equal(got, []string{"main/s"}) {
		t.Errorf("recovered = %v, want [main/s]", got)
	}
	if got := rec.Paths(flow.StepCompleted); !slices.Contains(got, "main/s") {
		t.Errorf("recovered step not completed: %v", got)
	}
	if got := rec.Paths(flow.StepStarted); !slices.Contains(got, "main/s/@catch/c") {
		t.Errorf("catch body path: started %v", got)
	}
	ev := rec.Of(flow.StepRecovered)[0]
	if flow.KindOf(ev.Err) != flow.KindFail || flow.StepOf(ev.Err) != "main/s/boom" {
		t.Errorf("recovered event error = %v (kind %s step %s)", ev.Err, flow.KindOf(ev.Err), flow.StepOf(ev.Err))
	}
}

// error.step of a leaf's own failure is the leaf's path.
func TestCatchLeafErrorStep(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  exec "x" {
    command = ["sh", "-c", "echo bad input >&2; exit 7"]
    catch {
      log "c" { message = "${error.kind}|${error.step}|${error.message}" }
    }
  }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantMessages(t, rec, "exit|main/x|sh exited with code 7: bad input")
}

func TestCatchNotRunOnSuccess(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  log "x" {
    message = "fine"
    catch {
      log "c" { message = "caught" }
    }
  }
  output "x" { value = step.x.message }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantMessages(t, rec, "fine")
	wantOutput(t, res, "x", `"fine"`)
	if got := rec.Of(flow.StepRecovered); len(got) != 0 {
		t.Errorf("recovered events on success: %v", got)
	}
}

// A fail inside catch re-raises: the run fails with it.
func TestCatchReraise(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  fail "x" {
    message = "first"
    catch {
      log "c" { message = "caught ${error.message}" }
      fail "rethrow" { message = "re-raised: ${error.message}" }
    }
  }
  log "after" { message = "after" }
}`, nil)
	wantStatus(t, res, flow.Failed)
	wantKind(t, res, flow.KindFail)
	if flow.MessageOf(res.Err) != "re-raised: first" || flow.StepOf(res.Err) != "main/x/@catch/rethrow" {
		t.Errorf("err = %v (step %q)", res.Err, flow.StepOf(res.Err))
	}
	wantMessages(t, rec, "caught first")
	if got := rec.Of(flow.StepRecovered); len(got) != 0 {
		t.Errorf("recovered despite re-raise: %v", got)
	}
	if got := rec.Paths(flow.StepFailed); !slices.Contains(got, "main/x") {
		t.Errorf("main/x not failed: %v", got)
	}
}

// A catch records into a variable declared on the flow; later steps see it.
func TestCatchSetsFlowVariable(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  vars = { problem = "none" }
  sequential "work" {
    fail "boom" { message = "disk full" }
    catch {
      set "record" {
        assign = { problem = "${error.step}: ${error.message}" }
      }
    }
  }
  log "report" { message = var.problem }
  output "problem" { value = var.problem }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantOutput(t, res, "problem", `"main/work/boom: disk full"`)
	wantMessages(t, rec, "main/work/boom: disk full")
}

// A stop is not caught: the catch does not run and the run is STOPPED.
func TestCatchDoesNotCatchStop(t *testing.T) {
	r, rec, startedCh := started(t, context.Background(), `
flow "t" {
  sleep "s" {
    duration = "1h"
    catch {
      log "c" { message = "caught ${error.kind}" }
    }
  }
  log "after" { message = "after" }
}`, flow.StepStarted, nil)
	if e := await(t, startedCh, "start"); e.Path != "main" {
		t.Fatalf("first start = %s", e.Path)
	}
	if e := await(t, startedCh, "start"); e.Path != "main/s" {
		t.Fatalf("second start = %s", e.Path)
	}
	r.Stop()
	res := finish(t, r)
	wantStatus(t, res, flow.Stopped)
	wantMessages(t, rec)
	if got := rec.Of(flow.StepRecovered); len(got) != 0 {
		t.Errorf("stop was recovered: %v", got)
	}
}

// Nor is a cancelled context.
func TestCatchDoesNotCatchCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, rec, startedCh := started(t, ctx, `
flow "t" {
  exec "s" {
    command = ["sleep", "60"]
    catch {
      log "c" { message = "caught ${error.kind}" }
    }
  }
}`, flow.StepStarted, nil)
	await(t, startedCh, "start")
	await(t, startedCh, "start")
	cancel()
	res := finish(t, r)
	wantStatus(t, res, flow.Stopped)
	wantMessages(t, rec)
}

// A catch inside a fork recovers one iteration; the others carry on and the
// recovered iteration's result holds null for the failed step.
func TestCatchInsideFork(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  fork "f" {
    for_each        = ["a", "bad", "c"]
    max_concurrency = 1
    sequential "work" {
      fail "boom" {
        if      = each.value == "bad"
        message = "bad item ${each.value}"
      }
      output "v" { value = each.value }
      catch {
        log "c" { message = "${error.step}: ${error.message}" }
      }
    }
  }
  output "results" { value = [for r in step.f.results : r.work == null ? "recovered" : r.work.v] }
  output "failed"  { value = step.f.failed }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantOutput(t, res, "results", `["a", "recovered", "c"]`)
	wantOutput(t, res, "failed", "0")
	wantMessages(t, rec, "main/f[1]/work/boom: bad item bad")
}

// ---- finally ----

func TestFinally(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		catch    bool
		status   flow.Status
		messages []string
		errMsg   string
	}{
		{name: "after success", body: `log "work" { message = "work" }`, status: flow.Completed,
			messages: []string{"work", "finally", "after"}},
		{name: "after failure", body: `fail "work" { message = "broken" }`, status: flow.Failed,
			messages: []string{"finally"}, errMsg: "broken"},
		{name: "after catch", body: `fail "work" { message = "broken" }`, catch: true, status: flow.Completed,
			messages: []string{"caught broken", "finally", "after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			catch := ""
			if tt.catch {
				catch = `catch {
      log "c" { message = "caught ${error.message}" }
    }`
			}
			res, rec := flowtest.Run(t, `
flow "t" {
  sequential "s" {
    `+tt.body+`
    `+catch+`
    finally {
      log "f" { message = "finally" }
    }
  }
  log "after" { message = "after" }
}`, nil)
			wantStatus(t, res, tt.status)
			wantMessages(t, rec, tt.messages...)
			if tt.errMsg != "" && flow.MessageOf(res.Err) != tt.errMsg {
				t.Errorf("err = %v, want %q", res.Err, tt.errMsg)
			}
			if got := rec.Paths(flow.StepCompleted); !slices.Contains(got, "main/s/@finally/f") {
				t.Errorf("finally body path: completed %v", got)
			}
		})
	}
}

// A failing finally fails a step that had succeeded.
func TestFinallyFailureFailsStep(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  log "s" {
    message = "work"
    finally {
      fail "cleanup" { message = "cleanup failed" }
    }
  }
  log "after" { message = "after" }
}`, nil)
	wantStatus(t, res, flow.Failed)
	wantKind(t, res, flow.KindFail)
	if flow.MessageOf(res.Err) != "cleanup failed" || flow.StepOf(res.Err) != "main/s/@finally/cleanup" {
		t.Errorf("err = %v (step %q)", res.Err, flow.StepOf(res.Err))
	}
	wantMessages(t, rec, "work")
	if got := rec.Paths(flow.StepFailed); !slices.Contains(got, "main/s") {
		t.Errorf("main/s not failed: %v", got)
	}
}

// When both the step and its finally fail, the step's error is reported.
func TestFinallyKeepsOriginalError(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  fail "s" {
    message = "original"
    finally {
      log "f1" { message = "cleaning" }
      fail "cleanup" { message = "cleanup failed" }
      log "f2" { message = "unreached" }
    }
  }
}`, nil)
	wantStatus(t, res, flow.Failed)
	wantKind(t, res, flow.KindFail)
	if flow.MessageOf(res.Err) != "original" || flow.StepOf(res.Err) != "main/s" {
		t.Errorf("err = %v (step %q), want the original error of main/s", res.Err, flow.StepOf(res.Err))
	}
	wantMessages(t, rec, "cleaning")
}

// A finally runs when the run was asked to stop, and its steps start even
// though a stop is pending.
func TestFinallyRunsOnStop(t *testing.T) {
	r, rec, startedCh := started(t, context.Background(), `
flow "t" {
  sequential "s" {
    sleep "wait" { duration = "1h" }
    finally {
      log "f1" { message = "cleanup 1" }
      sequential "nested" {
        log "f2" { message = "cleanup 2" }
      }
    }
  }
  log "after" { message = "after" }
}`, flow.StepStarted, nil)
	for {
		if e := await(t, startedCh, "start"); e.Path == "main/s/wait" {
			break
		}
	}
	r.Stop()
	res := finish(t, r)
	wantStatus(t, res, flow.Stopped)
	wantMessages(t, rec, "cleanup 1", "cleanup 2")
}

// finally runs even when its step is cancelled from outside: here by the
// timeout of an enclosing step and by a failing parallel sibling.
func TestFinallyRunsOnCancellation(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  sequential "outer" {
    timeout = "100ms"
    sleep "wait" {
      duration = "1h"
      finally {
        log "f1" { message = "cleanup after timeout" }
      }
    }
  }
}`, nil)
	wantStatus(t, res, flow.Failed)
	if k := flow.KindOf(res.Err); k != flow.KindTimeout {
		t.Errorf("kind %q, want timeout", k)
	}
	wantMessages(t, rec, "cleanup after timeout")

	res, rec = flowtest.Run(t, `
flow "t" {
  parallel "p" {
    sequential "a" {
      sleep "pause" { duration = "50ms" }
      fail "boom" { message = "boom" }
    }
    sleep "slow" {
      duration = "1h"
      finally {
        log "f2" { message = "cleanup after sibling failed" }
      }
    }
  }
}`, nil)
	wantStatus(t, res, flow.Failed)
	wantMessages(t, rec, "cleanup after sibling failed")
}

// ---- order ----

// The documented order: if → retry → timeout → step; then catch; then
// finally. The flow proves it from side effects:
//   - if reads a flag the step clears on its first attempt: were if inside
//     retry, the second attempt would be skipped. It runs three times.
//   - each attempt takes 150ms under a 400ms timeout: were the timeout
//     outside retry, the third attempt would time out. The error catch sees
//     is the step's own (kind fail), not a timeout.
//   - catch sees the error once, after the third attempt.
//   - finally runs once, after catch.
func TestDecoratorOrder(t *testing.T) {
	res, rec := flowtest.Run(t, `
flow "t" {
  vars = {
    go       = true
    attempts = 0
  }
  sequential "s" {
    if      = var.go
    timeout = "400ms"
    retry {
      max_attempts = 3
      strategy     = "constant"
      min_interval = "1ms"
    }
    set "count" {
      assign = {
        go       = false
        attempts = var.attempts + 1
      }
    }
    log "attempt" { message = "attempt ${var.attempts}" }
    sleep "work" { duration = "150ms" }
    fail "boom" { message = "failed attempt ${var.attempts}" }
    catch {
      log "c" { message = "catch: ${error.kind}: ${error.message}" }
    }
    finally {
      log "f" { message = "finally after ${var.attempts} attempts" }
    }
  }
  output "attempts" { value = var.attempts }
}`, nil)
	wantStatus(t, res, flow.Completed)
	wantMessages(t, rec,
		"attempt 1", "attempt 2", "attempt 3",
		"catch: fail: failed attempt 3",
		"finally after 3 attempts")
	wantOutput(t, res, "attempts", "3")
	if got := rec.Paths(flow.StepSkipped); len(got) != 0 {
		t.Errorf("skipped: %v", got)
	}
	// The step itself starts once and ends once: recovered, then completed.
	var own []flow.EventKind
	for _, e := range rec.Events {
		if e.Path == "main/s" {
			own = append(own, e.Kind)
		}
	}
	want := []flow.EventKind{flow.StepStarted, flow.StepRetrying, flow.StepRetrying, flow.StepRecovered, flow.StepCompleted}
	if !slices.Equal(own, want) {
		t.Errorf("events of main/s = %v, want %v", own, want)
	}
}
