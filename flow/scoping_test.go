package flow_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// scopingRun runs src, requires it to complete, and returns the result and
// the log messages.
func scopingRun(t *testing.T, src string, params map[string]cty.Value) (*flow.Result, []string) {
	t.Helper()
	res, rec := flowtest.Run(t, src, params)
	if res.Status != flow.Completed {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	return res, rec.Messages()
}

// scopingOutputs checks flow outputs, given in HCL syntax.
func scopingOutputs(t *testing.T, res *flow.Result, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got := flowtest.Output(res, name); got != w {
			t.Errorf("output %s = %s, want %s", name, got, w)
		}
	}
}

func scopingMessages(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("messages:\n got %q\nwant %q", got, want)
	}
}

// A step's vars shadow an outer variable of the same name for the step and
// what it holds; a set inside writes the nearest declaration; the outer
// variable keeps its value after the step.
func TestScopingShadowing(t *testing.T) {
	res, msgs := scopingRun(t, `
flow "t" {
  vars = {
    x = "outer"
    y = "outer y"
  }
  log "before" { message = var.x }
  sequential "s" {
    vars = { x = "${var.x} shadowed" } # evaluated outside: sees the outer x
    log "in1" { message = var.x }
    set "w" {
      assign = {
        x = "inner changed"
        y = "y changed" # not shadowed: written to the flow's y
      }
    }
    log "in2" { message = "${var.x} / ${var.y}" }
    sequential "deeper" {
      vars = { x = "deepest" }
      log "in3" { message = var.x }
      set "w" { assign = { x = "deepest changed" } }
      log "in4" { message = var.x }
    }
    log "in5" { message = var.x }
    output "x" { value = var.x }
  }
  log "after" { message = "${var.x} / ${var.y}" }
  output "x" { value = var.x }
  output "s_x" { value = step.s.x }
}`, nil)
	scopingMessages(t, msgs,
		"outer",
		"outer shadowed",
		"inner changed / y changed",
		"deepest", "deepest changed",
		"inner changed",
		"outer / y changed")
	scopingOutputs(t, res, map[string]string{"x": `"outer"`, "s_x": `"inner changed"`})
}

// Loop-carried variables: declared with vars on the loop and updated by a set
// in the body, directly or from inside nested steps, choose branches and
// catch bodies (all pass writes up to the loop's declaration).
func TestScopingLoopCarried(t *testing.T) {
	tests := []struct {
		name string
		loop string
		want map[string]string
	}{
		{name: "set in the body",
			loop: `loop "l" {
    vars  = {
      n    = 0
      seen = []
    }
    while = var.n < 3
    set "next" {
      assign = {
        n    = var.n + 1
        seen = concat(var.seen, [loop.index])
      }
    }
    output "v" { value = [var.n, var.seen] }
  }`,
			want: map[string]string{"v": `[3, [0, 1, 2]]`, "iterations": "3"}},
		{name: "set in a nested sequential",
			loop: `loop "l" {
    vars  = { total = 0 }
    until = var.total >= 10
    sequential "body" {
      sequential "deeper" {
        set "add" { assign = { total = var.total + loop.index + 1 } }
      }
    }
    output "v" { value = var.total }
  }`,
			want: map[string]string{"v": "10", "iterations": "4"}},
		{name: "set in choose branches",
			loop: `loop "l" {
    vars = {
      evens = 0
      odds  = 0
    }
    while = loop.index < 5
    choose "parity" {
      when {
        condition = loop.index % 2 == 0
        set "even" { assign = { evens = var.evens + 1 } }
      }
      otherwise {
        set "odd" { assign = { odds = var.odds + 1 } }
      }
    }
    output "v" { value = [var.evens, var.odds] }
  }`,
			want: map[string]string{"v": "[3, 2]", "iterations": "5"}},
		{name: "set in a catch body",
			loop: `loop "l" {
    vars  = { errors = [] }
    while = loop.index < 3
    fail "f" {
      message = "failure ${loop.index}"
      catch {
        set "record" { assign = { errors = concat(var.errors, [error.message]) } }
      }
    }
    output "v" { value = var.errors }
  }`,
			want: map[string]string{"v": `["failure 0", "failure 1", "failure 2"]`, "iterations": "3"}},
		{name: "set in a finally body",
			loop: `loop "l" {
    vars  = { cleanups = 0 }
    while = loop.index < 2
    log "work" {
      message = "work"
      finally {
        set "count" { assign = { cleanups = var.cleanups + 1 } }
      }
    }
    output "v" { value = var.cleanups }
  }`,
			want: map[string]string{"v": "2", "iterations": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := scopingRun(t, `
flow "t" {
  `+tt.loop+`
  output "v" { value = step.l.v }
  output "iterations" { value = step.l.iterations }
}`, nil)
			scopingOutputs(t, res, tt.want)
		})
	}
}

// A loop-carried variable declared on the flow: the loop updates the flow's
// variable, and the steps after the loop see the last value.
func TestScopingLoopCarriedFlowVariable(t *testing.T) {
	res, msgs := scopingRun(t, `
flow "t" {
  vars = { acc = "" }
  loop "l" {
    while = loop.index < 3
    set "append" { assign = { acc = "${var.acc}${loop.index}" } }
  }
  log "after" { message = "acc=${var.acc}" }
  output "acc" { value = var.acc }
}`, nil)
	scopingMessages(t, msgs, "acc=012")
	scopingOutputs(t, res, map[string]string{"acc": `"012"`})
}

// A set of a name declared nowhere declares it in the nearest step scope: in
// a loop body that is the loop's scope, so the value persists from one
// iteration to the next, but it is gone once the loop ends.
func TestScopingUndeclaredSetInLoop(t *testing.T) {
	const loop = `
  loop "l" {
    while = loop.index < 3
    set "init" {
      if     = loop.index == 0
      assign = { seen = [] }
    }
    set "add" { assign = { seen = concat(var.seen, [loop.index]) } }
    output "seen" { value = var.seen }
  }`
	t.Run("persists across iterations", func(t *testing.T) {
		res, _ := scopingRun(t, `
flow "t" {`+loop+`
  output "seen" { value = step.l.seen }
}`, nil)
		scopingOutputs(t, res, map[string]string{"seen": "[0, 1, 2]"})
	})
	t.Run("not visible after the loop", func(t *testing.T) {
		res, rec := flowtest.Run(t, `
flow "t" {`+loop+`
  log "after" { message = jsonencode(var.seen) }
}`, nil)
		if res.Status != flow.Failed {
			t.Fatalf("status %s, want FAILED: var.seen must not be visible after the loop", res.Status)
		}
		if flow.KindOf(res.Err) != flow.KindEval || flow.StepOf(res.Err) != "main/after" ||
			!strings.Contains(res.Err.Error(), "var.seen is not defined") {
			t.Errorf("err = %v (kind %s step %s)", res.Err, flow.KindOf(res.Err), flow.StepOf(res.Err))
		}
		if got := rec.Messages(); len(got) != 0 {
			t.Errorf("messages %q", got)
		}
	})
}

// The same rule elsewhere: an undeclared set is visible to the later steps
// of the step holding it, and not after that step.
func TestScopingUndeclaredSet(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		ok     bool
		failAt string
	}{
		{name: "flow body: visible to later steps", ok: true, body: `
  set "a" { assign = { tmp = "t" } }
  log "use" { message = var.tmp }`},
		{name: "nested sequential: visible inside", ok: true, body: `
  sequential "s" {
    set "a" { assign = { tmp = "t" } }
    sequential "deeper" {
      log "use" { message = var.tmp }
    }
  }`},
		{name: "nested sequential: not visible after", failAt: "main/use", body: `
  sequential "s" {
    set "a" { assign = { tmp = "t" } }
  }
  log "use" { message = var.tmp }`},
		{name: "choose branch: declared in the choose step", failAt: "main/use", body: `
  choose "c" {
    when {
      condition = true
      set "a" { assign = { tmp = "t" } }
    }
  }
  log "use" { message = var.tmp }`},
		{name: "catch body: declared in the enclosing step's scope", ok: true, body: `
  sequential "s" {
    fail "f" {
      message = "x"
      catch {
        set "a" { assign = { tmp = "t" } }
      }
    }
    log "use" { message = var.tmp }
  }`},
		{name: "parallel branch: not visible after", failAt: "main/use", body: `
  parallel "p" {
    set "a" { assign = { tmp = "t" } }
  }
  log "use" { message = var.tmp }`},
		{name: "fork iteration: not visible after", failAt: "main/use", body: `
  fork "f" {
    for_each = [1]
    set "a" { assign = { tmp = "t" } }
  }
  log "use" { message = var.tmp }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := flowtest.Run(t, "flow \"t\" {"+tt.body+"\n}", nil)
			if tt.ok {
				if res.Status != flow.Completed {
					t.Fatalf("status %s: %v", res.Status, res.Err)
				}
				scopingMessages(t, rec.Messages(), "t")
				return
			}
			if res.Status != flow.Failed || flow.KindOf(res.Err) != flow.KindEval || flow.StepOf(res.Err) != tt.failAt {
				t.Fatalf("status %s err %v, want an eval failure at %s", res.Status, res.Err, tt.failAt)
			}
		})
	}
}

// A set inside a parallel branch of a variable declared outside shadows it in
// that branch only: the other branches and the steps after the parallel keep
// the outer value. Branch b reads x only after branch a has written it (a
// file tells it when), so a leak would show.
func TestScopingParallelIsolation(t *testing.T) {
	dir := t.TempDir()
	res, msgs := scopingRun(t, `
flow "t" {
  param "signal" { type = string }
  vars = { x = "outer" }
  parallel "p" {
    sequential "a" {
      set "w" { assign = { x = "a" } }
      exec "done" { command = ["touch", param.signal] }
      log "sees" { message = "a sees ${var.x}" }
      output "x" { value = var.x }
    }
    sequential "b" {
      exec "wait" {
        command = ["sh", "-c", "while [ ! -e \"$1\" ]; do sleep 0.01; done", "sh", param.signal]
        timeout = "30s"
      }
      log "sees" { message = "b sees ${var.x}" }
      set "w" { assign = { x = "b" } }
      log "sees_own" { message = "b sees ${var.x}" }
      output "x" { value = var.x }
    }
    set "c" { assign = { x = "c" } }
    output "a" { value = step.a.x }
    output "b" { value = step.b.x }
    output "c" { value = step.c.x }
  }
  log "after" { message = "after: ${var.x}" }
  output "branches" { value = [step.p.a, step.p.b, step.p.c] }
  output "x" { value = var.x }
}`, map[string]cty.Value{"signal": cty.StringVal(filepath.Join(dir, "a-done"))})
	slices.Sort(msgs[:len(msgs)-1])
	scopingMessages(t, msgs, "a sees a", "b sees b", "b sees outer", "after: outer")
	scopingOutputs(t, res, map[string]string{"branches": `["a", "b", "c"]`, "x": `"outer"`})
}

// Fork iterations are boundaries too. With one iteration at a time, a write
// that leaked from one iteration to the next would show in the counts.
func TestScopingForkIsolation(t *testing.T) {
	for _, conc := range []string{"1", "0"} {
		t.Run("max_concurrency="+conc, func(t *testing.T) {
			res, _ := scopingRun(t, `
flow "t" {
  vars = {
    x     = "outer"
    count = 0
  }
  fork "f" {
    for_each        = ["p", "q", "r"]
    max_concurrency = `+conc+`
    set "mine" {
      assign = {
        x     = each.value
        count = var.count + 1
      }
    }
    sequential "nested" {
      set "deeper" { assign = { x = "${var.x}!" } }
    }
    log "sees" { message = "${var.x} ${var.count}" }
  }
  output "seen" { value = [for r in step.f.results : r.sees.message] }
  output "after" { value = [var.x, var.count] }
}`, nil)
			scopingOutputs(t, res, map[string]string{
				"seen":  `["p! 1", "q! 1", "r! 1"]`,
				"after": `["outer", 0]`,
			})
		})
	}
}

// A fork iteration that shadows nothing keeps its own undeclared variables;
// its siblings never see them.
func TestScopingForkOwnVariables(t *testing.T) {
	res, _ := scopingRun(t, `
flow "t" {
  fork "f" {
    for_each        = [3, 1, 2]
    max_concurrency = 1
    set "first" { assign = { mine = each.value * 10 } }
    set "second" { assign = { mine = var.mine + each.index } }
    output "ignored" { value = 0 }
  }
  output "mine" { value = [for r in step.f.results : r.second.mine] }
}`, nil)
	scopingOutputs(t, res, map[string]string{"mine": "[30, 11, 22]"})
}

// step.NAME.* at run time: earlier siblings, earlier siblings of ancestors,
// loop iterations' own steps (and until), choose branches, parallel branches
// reading what came before, catch bodies; outputs leave a branch only
// through output blocks and fork results.
func TestScopingStepVisibility(t *testing.T) {
	res, msgs := scopingRun(t, `
flow "t" {
  log "a" { message = "A" }
  sequential "outer" {
    log "b" { message = "B" }
    sequential "inner" {
      log "c" { message = "${step.a.message}${step.b.message}C" }
      output "c" { value = step.c.message }
    }
    log "d" { message = "${step.inner.c}D" }
    output "d" { value = step.d.message }
  }
  loop "l" {
    until = step.tock.message == "tick 2 A"
    log "tick" { message = "tick ${loop.index}" }
    log "tock" { message = "${step.tick.message} ${step.a.message}" }
  }
  choose "ch" {
    when {
      condition = step.l.iterations == 3
      log "w" { message = "chose ${step.outer.d}" }
    }
  }
  parallel "p" {
    log "p1" { message = "p1 sees ${step.outer.d}" }
    sequential "p2" {
      log "q" { message = "Q" }
      log "r" { message = "${step.q.message}R ${step.ch.branch}" }
      output "r" { value = step.r.message }
    }
    output "p1" { value = step.p1.message }
    output "p2" { value = step.p2.r }
  }
  fork "f" {
    for_each = ["x", "y"]
    log "e" { message = "E${each.value}" }
    log "g" { message = "${step.e.message}${step.a.message}" }
  }
  fail "z" {
    message = "z"
    catch {
      log "zc" { message = "catch sees ${step.p.p1}" }
    }
  }
  output "outer" { value = step.outer.d }
  output "p" { value = [step.p.p1, step.p.p2] }
  output "f" { value = [for r in step.f.results : r.g.message] }
  output "z" { value = step.z }
}`, nil)
	scopingOutputs(t, res, map[string]string{
		"outer": `"ABCD"`,
		"p":     `["p1 sees ABCD", "QR 0"]`,
		"f":     `["ExA", "EyA"]`,
		"z":     `null`,
	})
	for _, want := range []string{"tick 2 A", "chose ABCD", "catch sees p1 sees ABCD"} {
		if !slices.Contains(msgs, want) {
			t.Errorf("no message %q in %q", want, msgs)
		}
	}
	if n := strings.Count(strings.Join(msgs, "\n"), "tick "); n != 6 {
		t.Errorf("%d tick/tock messages, want 6 (3 iterations)", n)
	}
}

// The static check refuses what the run could not see: a later sibling, a
// parallel sibling, a step inside another step, a step inside a branch.
func TestScopingStepNotVisible(t *testing.T) {
	tests := []struct{ name, body string }{
		{"later sibling", `
  log "a" { message = step.b.message }
  log "b" { message = "b" }`},
		{"parallel sibling", `
  parallel "p" {
    log "a" { message = "a" }
    log "b" { message = step.a.message }
  }`},
		{"inside a parallel, from after", `
  parallel "p" {
    log "a" { message = "a" }
  }
  log "b" { message = step.a.message }`},
		{"inside a sequential, from after", `
  sequential "s" {
    log "a" { message = "a" }
  }
  log "b" { message = step.a.message }`},
		{"inside a fork, from after", `
  fork "f" {
    for_each = [1]
    log "a" { message = "a" }
  }
  log "b" { message = step.a.message }`},
		{"inside a loop, from after", `
  loop "l" {
    until = true
    log "a" { message = "a" }
  }
  log "b" { message = step.a.message }`},
		{"another choose branch", `
  choose "c" {
    when {
      condition = true
      log "a" { message = "a" }
    }
    otherwise {
      log "b" { message = step.a.message }
    }
  }`},
		{"inside a catch body, from after", `
  fail "f" {
    message = "x"
    catch {
      log "a" { message = "a" }
    }
  }
  log "b" { message = step.a.message }`},
		{"own outputs", `
  log "a" { message = step.a.message }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := flowtest.Diags(t, "flow \"t\" {"+tt.body+"\n}")
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			found := false
			for _, d := range diags {
				if d.Summary == "Step not visible here" || d.Summary == "Reference to undeclared step" {
					found = true
				}
			}
			if !found {
				t.Errorf("diagnostics %v do not say the step is not visible", diags)
			}
		})
	}
}
