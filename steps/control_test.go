package steps_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// ---- sequential ----

func TestSequentialOrderAndOutputs(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  sequential "s" {
    log "a" { message = "a" }
    set "x" { assign = { v = 41 } }
    log "b" { message = "b ${step.x.v + 1}" }
    log "c" { message = "c after ${step.b.message}" }
    output "last" { value = step.c.message }
  }
  output "last" { value = step.s.last }
}`)
	mustComplete(t, res)
	if got, want := rec.Messages(), []string{"a", "b 42", "c after b 42"}; !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	wantOutput(t, res, "last", `"c after b 42"`)
	var paths []string
	for _, p := range rec.Paths(flow.StepCompleted) {
		if strings.HasPrefix(p, "main/s/") {
			paths = append(paths, p)
		}
	}
	if want := []string{"main/s/a", "main/s/x", "main/s/b", "main/s/c"}; !slices.Equal(paths, want) {
		t.Errorf("completed %q, want %q", paths, want)
	}
}

func TestSequentialStopsAtFirstFailure(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  sequential "s" {
    log "a" { message = "a" }
    fail "b" { message = "boom" }
    log "c" { message = "c" }
  }
  log "after" { message = "after" }
}`)
	mustFail(t, res, flow.KindFail, "main/s/b", "boom")
	if got := rec.Messages(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("messages %q, want only a", got)
	}
	for _, p := range []string{"main/s/c", "main/after"} {
		if started(rec, p) {
			t.Errorf("%s started after the failure", p)
		}
	}
	if eventOf(rec, flow.StepFailed, "main/s") == nil {
		t.Error("the sequential itself was not reported failed")
	}
}

func TestSequentialEmpty(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  sequential "s" {}
  output "s" { value = step.s }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "s", "{}")
}

// ---- parallel ----

func TestParallelRunsAllChildren(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  parallel "p" {
    log "a" { message = "a" }
    log "b" { message = "b" }
    log "c" { message = "c" }
    output "all" { value = "${step.a.message}${step.b.message}${step.c.message}" }
  }
  output "all" { value = step.p.all }
}`)
	mustComplete(t, res)
	got := rec.Messages()
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("messages %q, want a, b, c", got)
	}
	wantOutput(t, res, "all", `"abc"`)
}

func TestParallelMaxConcurrency(t *testing.T) {
	for _, tc := range []struct{ limit, children, want int }{
		{limit: 2, children: 6, want: 2},
		{limit: 1, children: 3, want: 1},
		{limit: 0, children: 4, want: 4}, // 0: all at once
		{limit: 9, children: 3, want: 3},
	} {
		t.Run(fmt.Sprintf("limit%d_of%d", tc.limit, tc.children), func(t *testing.T) {
			group, g := freshGauge(t)
			var b strings.Builder
			for i := range tc.children {
				fmt.Fprintf(&b, "    probe \"p%d\" {\n      group = %q\n      target = %d\n      hold = \"5ms\"\n    }\n", i, group, tc.want)
			}
			res, rec := run(t, fmt.Sprintf(`
flow "t" {
  parallel "p" {
    max_concurrency = %d
%s  }
}`, tc.limit, b.String()))
			mustComplete(t, res)
			if got := g.Peak(); got != tc.want {
				t.Errorf("peak concurrency %d, want %d", got, tc.want)
			}
			if n := len(rec.Of(flow.StepCompleted)); n != tc.children+2 {
				t.Errorf("%d steps completed, want %d", n, tc.children+2)
			}
		})
	}
}

func TestParallelFailFastCancelsAndSkips(t *testing.T) {
	group, _ := freshGauge(t)
	res, rec := run(t, fmt.Sprintf(`
flow "t" {
  parallel "p" {
    max_concurrency = 2
    probe "slow" {
      group  = %[1]q
      signal = "up"
      block  = true
    }
    sequential "bad" {
      probe "wait" {
        group    = %[1]q
        wait_for = "up"
      }
      fail "boom" { message = "boom" }
    }
    log "never" { message = "never" }
  }
}`, group))
	mustFail(t, res, flow.KindFail, "main/p/bad/boom", "boom")
	e := eventOf(rec, flow.StepFailed, "main/p/slow")
	if e == nil {
		t.Fatal("the running sibling was not ended")
	}
	if k := flow.KindOf(e.Err); k != flow.KindCancelled {
		t.Errorf("the running sibling ended with kind %q (%v), want cancelled", k, e.Err)
	}
	if started(rec, "main/p/never") {
		t.Error("an unstarted sibling was started after the failure")
	}
}

func TestParallelFailFastDefaultIsTrue(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  parallel "p" {
    max_concurrency = 1
    fail "boom" { message = "boom" }
    log "later" { message = "later" }
  }
}`)
	mustFail(t, res, flow.KindFail, "main/p/boom", "boom")
	if started(rec, "main/p/later") {
		t.Error("fail_fast defaults to true, yet a later sibling started")
	}
}

func TestParallelNoFailFastRunsAllAndReportsAllErrors(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  parallel "p" {
    fail_fast       = false
    max_concurrency = 1
    fail "one" { message = "first failure" }
    sleep "nap" { duration = "20ms" }
    fail "two" { message = "second failure" }
    log "ok" { message = "still ran" }
  }
}`)
	mustFail(t, res, flow.KindFail, "", "main/p/one: first failure", "main/p/two: second failure")
	if !slices.Contains(rec.Messages(), "still ran") {
		t.Error("a sibling after the failures did not run")
	}
	if eventOf(rec, flow.StepCompleted, "main/p/nap") == nil {
		t.Error("the sleep was not left to complete")
	}
}

func TestParallelCancelStops(t *testing.T) {
	f := flowtest.Load(t, `
flow "t" {
  parallel "p" {
    sleep "a" { duration = "1m" }
    sleep "b" { duration = "1m" }
    sequential "c" {
      sleep "inner" { duration = "1m" }
    }
  }
  log "after" { message = "after" }
}`)
	obs := newChanObserver()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := flow.NewEngine(obs).Start(ctx, f, flow.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obs.waitStarted(t, "main/p/a", "main/p/b", "main/p/c/inner")
	cancel()
	res := waitDone(t, r)
	if res.Status != flow.Stopped {
		t.Fatalf("status %s, want STOPPED; error: %v", res.Status, res.Err)
	}
	if started(&obs.Recorder, "main/after") {
		t.Error("a step after the cancelled parallel started")
	}
}

func TestParallelBranchesDoNotShareSets(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  vars = { v = "outer" }
  parallel "p" {
    set "a" { assign = { v = "a" } }
    set "b" { assign = { v = "b" } }
  }
  output "v" { value = var.v }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "v", `"outer"`)
}

// ---- loop ----

func TestLoopWhile(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  vars = { n = 0 }
  loop "l" {
    while = var.n < 3
    set "inc" { assign = { n = var.n + 1 } }
  }
  output "n"    { value = var.n }
  output "iter" { value = step.l.iterations }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "n", "3")
	wantOutput(t, res, "iter", "3")
	if eventOf(rec, flow.StepCompleted, "main/l#2/inc") == nil || started(rec, "main/l#3/inc") {
		t.Errorf("iteration paths: %q", rec.Paths(flow.StepCompleted))
	}
}

func TestLoopUntilSeesIterationOutputs(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  vars = { n = 10 }
  loop "l" {
    until = step.inc.n >= 13
    set "inc" { assign = { n = var.n + 1 } }
  }
  output "n"    { value = var.n }
  output "iter" { value = step.l.iterations }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "n", "13")
	wantOutput(t, res, "iter", "3")
	if len(rec.Paths(flow.StepCompleted)) != 3+2 {
		t.Errorf("completed %q", rec.Paths(flow.StepCompleted))
	}
}

func TestLoopUntilRunsAtLeastOnce(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  loop "l" {
    until = true
    log "x" { message = "ran" }
  }
  output "iter" { value = step.l.iterations }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "iter", "1")
	if got := rec.Messages(); !slices.Equal(got, []string{"ran"}) {
		t.Errorf("messages %q", got)
	}
}

func TestLoopWhileAndUntil(t *testing.T) {
	for _, tc := range []struct {
		name, while, until string
		want               string
	}{
		{"until ends first", "loop.index < 10", "step.x.message == \"2\"", "3"},
		{"while ends first", "loop.index < 2", "false", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := run(t, fmt.Sprintf(`
flow "t" {
  loop "l" {
    while = %s
    until = %s
    log "x" { message = "${loop.index}" }
  }
  output "iter" { value = step.l.iterations }
}`, tc.while, tc.until))
			mustComplete(t, res)
			wantOutput(t, res, "iter", tc.want)
		})
	}
}

func TestLoopIndex(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  loop "l" {
    while = loop.index < 3
    log "x" { message = "i=${loop.index}" }
  }
}`)
	mustComplete(t, res)
	if got, want := rec.Messages(), []string{"i=0", "i=1", "i=2"}; !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	var paths []string
	for _, e := range rec.Of(flow.StepLog) {
		paths = append(paths, e.Path)
	}
	if want := []string{"main/l#0/x", "main/l#1/x", "main/l#2/x"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
}

func TestLoopMaxIterationsExceeded(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  loop "l" {
    while          = true
    max_iterations = 4
    log "x" { message = "${loop.index}" }
  }
}`)
	mustFail(t, res, flow.KindFailed, "main/l", "max_iterations (4)")
	if n := len(rec.Messages()); n != 4 {
		t.Errorf("%d iterations ran, want 4", n)
	}
}

func TestLoopMaxIterationsReachedExactly(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  loop "l" {
    while          = loop.index < 4
    max_iterations = 4
    log "x" { message = "${loop.index}" }
  }
  output "iter" { value = step.l.iterations }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "iter", "4")
}

func TestLoopCarriedVariable(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  loop "l" {
    vars  = { acc = "", i = 0 }
    while = var.i < 4
    set "s" {
      assign = { acc = "${var.acc}${var.i}", i = var.i + 1 }
    }
    output "acc" { value = var.acc }
  }
  output "acc" { value = step.l.acc }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "acc", `"0123"`)
}

func TestLoopZeroIterations(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  loop "l" {
    while = false
    log "x" { message = "never" }
  }
  output "iter" { value = step.l.iterations }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "iter", "0")
	if len(rec.Messages()) != 0 {
		t.Errorf("body ran: %q", rec.Messages())
	}
}

func TestLoopBodyFailureEndsLoop(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  loop "l" {
    while = true
    log "x" { message = "${loop.index}" }
    fail "f" {
      if      = loop.index == 1
      message = "stop at ${loop.index}"
    }
  }
}`)
	mustFail(t, res, flow.KindFail, "main/l#1/f", "stop at 1")
	if got := rec.Messages(); !slices.Equal(got, []string{"0", "1"}) {
		t.Errorf("messages %q", got)
	}
}

func TestLoopWithoutConditionIsRejected(t *testing.T) {
	diags := flowtest.Diags(t, `
flow "t" {
  loop "l" {
    log "x" { message = "x" }
  }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Loop without condition") {
		t.Errorf("diagnostics %v", diags)
	}
}

// ---- choose ----

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name, conds string
		otherwise   bool
		msgs        []string
		branch      string
	}{
		{"first true wins", "false, true, true", true, []string{"w1"}, "1"},
		{"first of all", "true, true, false", true, []string{"w0"}, "0"},
		{"otherwise", "false, false, false", true, []string{"other"}, "-1"},
		{"no branch", "false, false, false", false, nil, "-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conds := strings.Split(tc.conds, ", ")
			var b strings.Builder
			for i, c := range conds {
				fmt.Fprintf(&b, "    when {\n      condition = %s\n      log \"w%d\" { message = \"w%d\" }\n    }\n", c, i, i)
			}
			if tc.otherwise {
				b.WriteString("    otherwise {\n      log \"o\" { message = \"other\" }\n    }\n")
			}
			res, rec := run(t, fmt.Sprintf(`
flow "t" {
  choose "c" {
%s  }
  log "after" { message = "after" }
  output "branch" { value = step.c.branch }
}`, b.String()))
			mustComplete(t, res)
			wantOutput(t, res, "branch", tc.branch)
			if got := rec.Messages(); !slices.Equal(got, append(tc.msgs, "after")) {
				t.Errorf("messages %q, want %q then after", got, tc.msgs)
			}
		})
	}
}

func TestChooseBranchOutputs(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  param "size" {
    type    = number
    default = 7
  }
  choose "c" {
    when {
      condition = param.size > 5
      set "pick" { assign = { label = "big" } }
      log "say" { message = "picked ${step.pick.label}" }
    }
    otherwise {
      log "small" { message = "small" }
    }
    output "label" { value = step.pick.label }
  }
  output "label" { value = step.c.label }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "label", `"big"`)
	if got := rec.Messages(); !slices.Equal(got, []string{"picked big"}) {
		t.Errorf("messages %q", got)
	}
	if eventOf(rec, flow.StepCompleted, "main/c/pick") == nil {
		t.Errorf("branch step path: %q", rec.Paths(flow.StepCompleted))
	}
}

func TestChooseConditionError(t *testing.T) {
	f := flowtest.Load(t, `
flow "t" {
  param "c" { type = string }
  choose "c" {
    when {
      condition = param.c
      log "w" { message = "w" }
    }
    otherwise {
      log "o" { message = "o" }
    }
  }
}`)
	res, rec := flowtest.RunFlow(t, context.Background(), f, map[string]cty.Value{"c": cty.StringVal("maybe")})
	mustFail(t, res, flow.KindEval, "main/c", "bool")
	if len(rec.Messages()) != 0 {
		t.Errorf("a branch ran despite the error: %q", rec.Messages())
	}
}

// ---- fork ----

func TestForkCollections(t *testing.T) {
	for _, tc := range []struct {
		name, forEach, want string
	}{
		{"list", `["a", "b", "c"]`, `["0:a:0", "1:b:1", "2:c:2"]`},
		{"tuple of mixed", `["a", 1, true]`, `["0:a:0", "1:1:1", "2:true:2"]`},
		{"set", `toset(["b", "a"])`, `["a:a:0", "b:b:1"]`},
		{"map", `{ y = 2, x = 1 }`, `["x:1:0", "y:2:1"]`},
		{"map from tomap", `tomap({ k1 = "v1", k2 = "v2" })`, `["k1:v1:0", "k2:v2:1"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := run(t, fmt.Sprintf(`
flow "t" {
  fork "f" {
    for_each = %s
    set "s" { assign = { v = "${each.key}:${each.value}:${each.index}" } }
  }
  output "vs"     { value = [for r in step.f.results : r.s.v] }
  output "failed" { value = step.f.failed }
}`, tc.forEach))
			mustComplete(t, res)
			wantOutput(t, res, "vs", tc.want)
			wantOutput(t, res, "failed", "0")
		})
	}
}

func TestForkEmpty(t *testing.T) {
	for _, fe := range []string{"[]", "{}", "toset([])", "tolist([])"} {
		t.Run(fe, func(t *testing.T) {
			res, rec := run(t, fmt.Sprintf(`
flow "t" {
  fork "f" {
    for_each = %s
    log "x" { message = "never" }
  }
  output "results" { value = step.f.results }
  output "failed"  { value = step.f.failed }
}`, fe))
			mustComplete(t, res)
			wantOutput(t, res, "results", "[]")
			wantOutput(t, res, "failed", "0")
			if len(rec.Messages()) != 0 {
				t.Errorf("body ran: %q", rec.Messages())
			}
		})
	}
}

func TestForkResultsInInputOrder(t *testing.T) {
	// The last step of each iteration waits until the next iteration's last
	// step has ended, so the iterations end in reverse order: d, c, b, a.
	group, _ := freshGauge(t)
	res, _ := run(t, fmt.Sprintf(`
flow "t" {
  fork "f" {
    for_each        = ["a", "b", "c", "d"]
    max_concurrency = 0
    set "s" { assign = { v = each.value } }
    probe "p" {
      group    = %q
      wait_for = each.index < 3 ? "done${each.index + 1}" : ""
      signal   = "done${each.index}"
      hold     = "2ms"
    }
  }
  output "vs" { value = [for r in step.f.results : r.s.v] }
}`, group))
	mustComplete(t, res)
	wantOutput(t, res, "vs", `["a", "b", "c", "d"]`)
}

func TestForkMaxConcurrency(t *testing.T) {
	for _, tc := range []struct {
		attr        string
		items, want int
	}{
		{"max_concurrency = 2", 6, 2},
		{"max_concurrency = 1", 3, 1},
		{"", 12, 10}, // the default
		{"max_concurrency = 0", 12, 12},
	} {
		t.Run(fmt.Sprintf("%q_%d", tc.attr, tc.items), func(t *testing.T) {
			group, g := freshGauge(t)
			res, _ := run(t, fmt.Sprintf(`
flow "t" {
  fork "f" {
    for_each = range(%d)
    %s
    probe "p" {
      group  = %q
      target = %d
      hold   = "5ms"
    }
  }
  output "n" { value = length(step.f.results) }
}`, tc.items, tc.attr, group, tc.want))
			mustComplete(t, res)
			wantOutput(t, res, "n", fmt.Sprint(tc.items))
			if got := g.Peak(); got != tc.want {
				t.Errorf("peak concurrency %d, want %d", got, tc.want)
			}
		})
	}
}

func TestForkToleratedFailuresWithin(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  fork "f" {
    for_each           = [1, 2, 3, 4, 5]
    tolerated_failures = 2
    fail "odd" {
      if      = each.value % 2 == 0
      message = "even ${each.value}"
    }
    set "s" { assign = { v = each.value } }
  }
  output "failed" { value = step.f.failed }
  output "vs"     { value = [for r in step.f.results : r == null ? 0 : r.s.v] }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "failed", "2")
	wantOutput(t, res, "vs", "[1, 0, 3, 0, 5]")
	if eventOf(rec, flow.StepFailed, "main/f[1]/odd") == nil {
		t.Error("no failure event for iteration 1")
	}
}

func TestForkToleratedFailuresBeyond(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  fork "f" {
    for_each           = [1, 2, 3, 4]
    tolerated_failures = 1
    fail "odd" {
      if      = each.value % 2 == 0
      message = "even ${each.value}"
    }
  }
  log "after" { message = "after" }
}`)
	mustFail(t, res, flow.KindFail, "", "2 of 4 iterations failed (tolerated: 1)", "even 2", "even 4")
}

func TestForkDefaultToleratesNothing(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  fork "f" {
    for_each        = ["a", "b", "c"]
    max_concurrency = 1
    fail "x" {
      if      = each.value == "a"
      message = "bad ${each.value}"
    }
    log "ok" { message = each.value }
  }
}`)
	mustFail(t, res, flow.KindFail, "main/f", "main/f[0]/x: bad a", "1 of 3 iterations failed (tolerated: 0)", "bad a")
	for _, p := range []string{"main/f[1]/x", "main/f[2]/x"} {
		if started(rec, p) {
			t.Errorf("%s started after the fork failed", p)
		}
	}
}

func TestForkCatchInsideIteration(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  fork "f" {
    for_each = ["a", "b", "c"]
    fail "x" {
      if      = each.value == "b"
      message = "bad ${each.value}"
      catch {
        log "caught" { message = "caught ${error.message} at ${error.step}" }
      }
    }
    set "s" { assign = { v = each.value } }
  }
  output "failed" { value = step.f.failed }
  output "vs"     { value = [for r in step.f.results : r.s.v] }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "failed", "0")
	wantOutput(t, res, "vs", `["a", "b", "c"]`)
	if got := rec.Messages(); !slices.Equal(got, []string{"caught bad b at main/f[1]/x"}) {
		t.Errorf("messages %q", got)
	}
	if eventOf(rec, flow.StepRecovered, "main/f[1]/x") == nil {
		t.Error("no recovered event")
	}
}

func TestForkForEachNotACollection(t *testing.T) {
	for _, fe := range []string{`"abc"`, `42`, `true`} {
		t.Run(fe, func(t *testing.T) {
			res, rec := run(t, fmt.Sprintf(`
flow "t" {
  fork "f" {
    for_each = %s
    log "x" { message = "never" }
  }
}`, fe))
			mustFail(t, res, flow.KindEval, "main/f", "for_each")
			if len(rec.Messages()) != 0 {
				t.Errorf("body ran: %q", rec.Messages())
			}
		})
	}
}

func TestForkIterationsAreIsolated(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  vars = { v = "outer" }
  fork "f" {
    for_each = ["a", "b"]
    set "s" { assign = { v = each.value } }
    log "l" { message = var.v }
  }
  output "v"    { value = var.v }
  output "msgs" { value = [for r in step.f.results : r.l.message] }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "v", `"outer"`)
	wantOutput(t, res, "msgs", `["a", "b"]`)
}

func TestForkStop(t *testing.T) {
	f := flowtest.Load(t, `
flow "t" {
  fork "f" {
    for_each = ["a", "b", "c"]
    sleep "nap" { duration = "1m" }
  }
  log "after" { message = "after" }
}`)
	obs := newChanObserver()
	r, err := flow.NewEngine(obs).Start(context.Background(), f, flow.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obs.waitStarted(t, "main/f[0]/nap", "main/f[1]/nap", "main/f[2]/nap")
	r.Stop()
	res := waitDone(t, r)
	if res.Status != flow.Stopped {
		t.Fatalf("status %s, want STOPPED; error: %v", res.Status, res.Err)
	}
	if started(&obs.Recorder, "main/after") {
		t.Error("a step after the stopped fork started")
	}
}
