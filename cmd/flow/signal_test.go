package main_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startFlow starts flow with args in dir and returns a function that waits
// for its end.
func startFlow(t *testing.T, dir string, args ...string) (stderr *lockedBuffer, signal func(), end func(limit time.Duration) result) {
	t.Helper()
	cmd, stdout, stderr := command(t, dir, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // harmless once it ended
	signal = func() {
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
	}
	return stderr, signal, func(limit time.Duration) result { return waitWithin(t, limit, cmd, stdout, stderr) }
}

var stoppedLine = regexp.MustCompile(`(?m)^\w+ STOPPED \(execution \S+\)$`)

// A SIGINT while a sleep step waits ends the wait: the run stops before
// the next step, STOPPED with exit code 3.
func TestSIGINTStopsSleep(t *testing.T) {
	dir := writeFlow(t, `flow "nap" {
  sleep "long" {
    duration = "60s"
  }
  log "after" {
    message = "woke up"
  }
}
`)
	stderr, signal, end := startFlow(t, dir, "exec", "main.flow.hcl", "--log-level", "debug", "-o", "json")
	eventually(t, "the sleep step to start", func() bool {
		return strings.Contains(stderr.String(), "step=main/long")
	}, stderr)
	signal()
	r := end(20 * time.Second)
	wantCode(t, r, 3)
	res := decodeOne(t, r.stdout)
	if res.Status != "STOPPED" {
		t.Errorf("status %s, want STOPPED", res.Status)
	}
	if res.Error == nil || res.Error.Kind != "cancelled" {
		t.Errorf("error: %+v", res.Error)
	}
	wantContains(t, "stderr", r.stderr, "stopping at the next step boundary")
	wantNotContains(t, "stderr", r.stderr, "woke up")
}

// A SIGINT while a command runs lets it finish; the steps after it do not
// start.
func TestSIGINTStopsAtStepBoundary(t *testing.T) {
	dir := writeFlow(t, `flow "work" {
  exec "busy" {
    command = ["sh", "-c", "touch started; sleep 1; touch finished"]
  }
  log "after" {
    message = "after busy"
  }
  exec "never" {
    command = ["touch", "never"]
  }
}
`)
	stderr, signal, end := startFlow(t, dir, "exec", "main.flow.hcl")
	eventually(t, "the command to start", func() bool { return exists(filepath.Join(dir, "started")) }, stderr)
	signal()
	r := end(20 * time.Second)
	wantCode(t, r, 3)
	if !stoppedLine.MatchString(r.stdout) {
		t.Errorf("no STOPPED line:\n%s", r)
	}
	if !exists(filepath.Join(dir, "finished")) {
		t.Error("the running command was not allowed to finish")
	}
	if exists(filepath.Join(dir, "never")) {
		t.Error("a step after the stop request ran")
	}
	wantContains(t, "stderr", r.stderr, `msg="step completed" step=main/busy`)
	wantNotContains(t, "stderr", r.stderr, "after busy")
}

// A second SIGINT aborts the running command instead of waiting for it.
func TestSecondSIGINTAborts(t *testing.T) {
	dir := writeFlow(t, `flow "stubborn" {
  exec "busy" {
    command = ["sh", "-c", "touch started; sleep 60; touch finished"]
  }
  log "after" {
    message = "after busy"
  }
}
`)
	stderr, signal, end := startFlow(t, dir, "exec", "main.flow.hcl")
	eventually(t, "the command to start", func() bool { return exists(filepath.Join(dir, "started")) }, stderr)
	signal()
	eventually(t, "the first signal to be seen", func() bool {
		return strings.Contains(stderr.String(), "stopping at the next step boundary")
	}, stderr)
	signal()
	// The command sleeps for 60s: ending well before means it was aborted.
	r := end(20 * time.Second)
	wantCode(t, r, 3)
	if !stoppedLine.MatchString(r.stdout) {
		t.Errorf("no STOPPED line:\n%s", r)
	}
	wantContains(t, "stderr", r.stderr, "aborting running steps")
	wantNotContains(t, "stderr", r.stderr, "after busy")
	if exists(filepath.Join(dir, "finished")) {
		t.Error("the command ran to its end")
	}
}
