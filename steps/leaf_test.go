package steps_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// ---- set ----

func TestSetAssigns(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  vars = { a = 1 }
  set "s" { assign = { a = var.a + 1, b = "new" } }
  output "a"   { value = var.a }
  output "b"   { value = var.b }
  output "out" { value = step.s }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "a", "2")
	wantOutput(t, res, "b", `"new"`)
	wantOutput(t, res, "out", `{
  a = 2
  b = "new"
}`)
}

func TestSetIsSimultaneous(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  vars = { a = 1, b = 2 }
  set "swap" { assign = { a = var.b, b = var.a } }
  output "ab" { value = [var.a, var.b] }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "ab", "[2, 1]")
}

func TestSetEvalError(t *testing.T) {
	f := flowtest.Load(t, `
flow "t" {
  param "x" { type = string }
  vars = { a = 1 }
  set "s" { assign = { a = 5, b = tonumber(param.x) } }
  output "a" { value = var.a }
}`)
	res, _ := flowtest.RunFlow(t, context.Background(), f, map[string]cty.Value{"x": cty.StringVal("nope")})
	mustFail(t, res, flow.KindEval, "main/s", "nope")
}

func TestSetInvalidAssign(t *testing.T) {
	diags := flowtest.Diags(t, `
flow "t" {
  set "s" { assign = 42 }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Invalid assign") {
		t.Errorf("diagnostics %v", diags)
	}
}

// ---- log ----

func TestLog(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  vars = { who = "world" }
  log "plain" { message = "hello ${var.who}" }
  log "loud" {
    message = "careful"
    level   = "warn"
  }
  log "quiet" {
    message = "details"
    level   = "debug"
  }
  output "m" { value = step.plain.message }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "m", `"hello world"`)
	logs := rec.Of(flow.StepLog)
	if len(logs) != 3 {
		t.Fatalf("%d log events, want 3", len(logs))
	}
	for i, want := range []struct {
		path, msg string
		level     slog.Level
	}{
		{"main/plain", "hello world", slog.LevelInfo},
		{"main/loud", "careful", slog.LevelWarn},
		{"main/quiet", "details", slog.LevelDebug},
	} {
		e := logs[i]
		if e.Path != want.path || e.Message != want.msg || e.Level != want.level {
			t.Errorf("log %d: %s %q %v, want %s %q %v", i, e.Path, e.Message, e.Level, want.path, want.msg, want.level)
		}
	}
}

func TestLogBadLevel(t *testing.T) {
	t.Run("static", func(t *testing.T) {
		diags := flowtest.Diags(t, `
flow "t" {
  log "x" {
    message = "m"
    level   = "loud"
  }
}`)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "loud") {
			t.Errorf("diagnostics %v", diags)
		}
	})
	t.Run("computed", func(t *testing.T) {
		f := flowtest.Load(t, `
flow "t" {
  param "lv" { type = string }
  log "x" {
    message = "m"
    level   = param.lv
  }
}`)
		res, rec := flowtest.RunFlow(t, context.Background(), f, map[string]cty.Value{"lv": cty.StringVal("loud")})
		mustFail(t, res, flow.KindEval, "main/x", `"loud"`, "debug, info, warn, error")
		if len(rec.Messages()) != 0 {
			t.Errorf("logged despite the bad level: %q", rec.Messages())
		}
	})
}

// ---- sleep ----

func TestSleep(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  sleep "nap" { duration = "20ms" }
  log "after" { message = "woke" }
}`)
	mustComplete(t, res)
	e := eventOf(rec, flow.StepCompleted, "main/nap")
	if e == nil {
		t.Fatal("sleep did not complete")
	}
	if e.Duration < 20e6 {
		t.Errorf("slept %s, want at least 20ms", e.Duration)
	}
	if !slices.Equal(rec.Messages(), []string{"woke"}) {
		t.Errorf("messages %q", rec.Messages())
	}
}

func TestSleepZero(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  sleep "nap" { duration = "0s" }
}`)
	mustComplete(t, res)
}

func TestSleepStopped(t *testing.T) {
	f := flowtest.Load(t, `
flow "t" {
  sleep "nap" { duration = "1m" }
  log "after" { message = "after" }
}`)
	obs := newChanObserver()
	r, err := flow.NewEngine(obs).Start(context.Background(), f, flow.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obs.waitStarted(t, "main/nap")
	r.Stop()
	res := waitDone(t, r)
	if res.Status != flow.Stopped {
		t.Fatalf("status %s, want STOPPED; error: %v", res.Status, res.Err)
	}
	if started(&obs.Recorder, "main/after") {
		t.Error("a step after the stopped sleep started")
	}
	if e := eventOf(&obs.Recorder, flow.StepFailed, "main/nap"); e == nil || flow.KindOf(e.Err) != flow.KindCancelled {
		t.Errorf("sleep did not end cancelled: %+v", e)
	}
}

func TestSleepBadDuration(t *testing.T) {
	t.Run("static", func(t *testing.T) {
		diags := flowtest.Diags(t, `
flow "t" {
  sleep "nap" { duration = "soon" }
}`)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "soon") {
			t.Errorf("diagnostics %v", diags)
		}
	})
	for _, d := range []string{"soon", "-1s"} {
		t.Run("computed "+d, func(t *testing.T) {
			f := flowtest.Load(t, `
flow "t" {
  param "d" { type = string }
  sleep "nap" { duration = param.d }
}`)
			res, _ := flowtest.RunFlow(t, context.Background(), f, map[string]cty.Value{"d": cty.StringVal(d)})
			mustFail(t, res, flow.KindEval, "main/nap", d)
		})
	}
}

// ---- fail ----

func TestFail(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  vars = { n = 3 }
  fail "f" { message = "bad count ${var.n}" }
  log "after" { message = "after" }
}`)
	mustFail(t, res, flow.KindFail, "main/f", "bad count 3")
	if got := flow.MessageOf(res.Err); got != "bad count 3" {
		t.Errorf("message %q, want %q", got, "bad count 3")
	}
	if started(rec, "main/after") {
		t.Error("a step after fail started")
	}
}

func TestFailSeenByCatch(t *testing.T) {
	res, rec := run(t, `
flow "t" {
  fail "f" {
    message = "boom"
    catch {
      log "c" { message = "${error.kind}|${error.message}|${error.step}" }
    }
  }
}`)
	mustComplete(t, res)
	if got := rec.Messages(); !slices.Equal(got, []string{"fail|boom|main/f"}) {
		t.Errorf("messages %q", got)
	}
}
