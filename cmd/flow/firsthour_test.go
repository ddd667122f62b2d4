package main_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A stop and a cancellation are not failures of the steps they end: their
// lines say "step stopped" and "step cancelled", at INFO, without Go's
// "context canceled".
func TestStoppedAndCancelledLines(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		dir := writeFlow(t, `flow "nap" {
  sleep "long" {
    duration = "60s"
  }
}
`)
		stderr, signal, end := startFlow(t, dir, "exec", "main.flow.hcl", "--log-level", "debug")
		eventually(t, "the sleep step to start", func() bool { return strings.Contains(stderr.String(), "step=main/long") }, stderr)
		signal()
		r := end(20 * time.Second)
		wantCode(t, r, 3)
		wantContains(t, "stderr", r.stderr,
			`level=INFO msg="step stopped" step=main/long attempt=1 error="interrupted: run stopped"`,
			`level=INFO msg="step stopped" step=main attempt=1`)
		wantNotContains(t, "stderr", r.stderr, "step failed")
	})
	t.Run("cancelled by a failing sibling", func(t *testing.T) {
		dir := writeFlow(t, `flow "p" {
  parallel "both" {
    sequential "slow" {
      sleep "busy" {
        duration = "60s"
      }
    }
    sequential "bad" {
      sleep "short" {
        duration = "50ms"
      }
      fail "boom" {
        message = "boom"
      }
    }
  }
}
`)
		r := flowIn(t, dir, "exec", "main.flow.hcl", "--no-store")
		wantCode(t, r, 1)
		wantContains(t, "stderr", r.stderr,
			`level=ERROR msg="step failed" step=main/both/bad/boom attempt=1 error=boom`,
			`level=INFO msg="step cancelled" step=main/both/slow/busy attempt=1`)
		wantNotContains(t, "stderr", r.stderr, "context canceled")
	})
}

// An execution whose process was killed is not shown running: history and
// show say its owner is gone and what to do.
func TestKilledOwnerShownGone(t *testing.T) {
	// An exec step's start is committed before it runs: the record the
	// kill leaves is STARTED. (The orphaned sleep ends by itself.)
	dir := writeFlow(t, `flow "nap" {
  exec "long" {
    command = ["sh", "-c", "touch started; exec sleep 5"]
  }
}
`)
	cmd, _, stderr := command(t, dir, "exec", "main.flow.hcl", "--log-level", "debug")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the command to start", func() bool { return exists(filepath.Join(dir, "started")) }, stderr)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	r := flowIn(t, dir, "history")
	wantCode(t, r, 0)
	wantContains(t, "history", r.stdout, "STARTED", " is gone: resume or abandon it")
	wantNotContains(t, "history", r.stdout, "running")

	r = flowIn(t, dir, "show", "1")
	wantCode(t, r, 0)
	wantContains(t, "show", r.stdout, "gone without ending it: flow resume 1, or flow abandon 1", "long  exec  interrupted")
}

// Abandoning an execution that a later one carried on says that flow exec
// looks at the later one.
func TestAbandonSuperseded(t *testing.T) {
	dir := writeFlow(t, resumeFlow)
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1)
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1) // resumes 1 as 2

	r := flowIn(t, dir, "abandon", "1")
	wantCode(t, r, 0)
	if want := "execution 1 of flow r abandoned (it was FAILED); execution 2 (FAILED) carried it on since, and is the one flow exec looks at: abandon 2 to start afresh\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1")
	wantCode(t, r, 1)
	wantContains(t, "stderr", r.stderr, "resuming execution 3 of flow r (execution 2 ended FAILED")
}

// A -p naming no param of the flow suggests the closest one, or lists them.
func TestUnknownParamSuggests(t *testing.T) {
	dir := writeFlow(t, resumeFlow)
	for _, tc := range []struct{ arg, want string }{
		{"dya=d1", `flow: -p dya=d1: flow "r" has no param "dya"; did you mean "day"?`},
		{"colour=red", `flow: -p colour=red: flow "r" has no param "colour"; it declares day, note`},
	} {
		r := flowIn(t, dir, "exec", "main.flow.hcl", "-p", tc.arg)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, tc.want)
	}
	r := flowIn(t, dir, "exec", "main.flow.hcl", "--params-file", "missing.json")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "flow: --params-file: open missing.json: ")
}
