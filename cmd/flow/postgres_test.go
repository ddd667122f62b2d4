package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowbatch/flow/internal/pgtest"
)

// pgStore returns a store URL using a PostgreSQL schema of the test's own
// (see pgtest), dropped at the end.
func pgStore(t *testing.T) string {
	t.Helper()
	dsn, _ := pgtest.Schema(t, "flowcli")
	if !strings.HasPrefix(dsn, "postgres") {
		t.Skip("FLOW_TEST_POSTGRES_DSN is not a URL; the CLI tests need one")
	}
	return dsn
}

// With PostgreSQL, several processes share the store: a second exec of a
// running instance is refused naming its owner; flow stop records a stop
// request that the owner's heartbeat (every FLOW_LEASE/3) turns into a
// stop; flow resume then completes the execution.
func TestStopPostgres(t *testing.T) {
	st := pgStore(t)
	dir := writeFlow(t, napFlow)
	env := []string{"FLOW_STORE=" + st, "FLOW_LEASE=3s"}
	_, stderr, end := startFlowEnv(t, dir, env, "exec", "main.flow.hcl", "--log-level", "debug")
	id := runStarted(t, stderr)
	eventually(t, "the sleep to start", func() bool { return strings.Contains(stderr.String(), "step=main/long") }, stderr)

	r := flowEnv(t, dir, env, "exec", "main.flow.hcl")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "flow: flow nap is already running: execution "+id+" is owned by pid ",
		", which is alive; wait for it to end or stop it with: flow stop "+id)

	r = flowEnv(t, dir, env, "history", "-o", "json")
	wantCode(t, r, 0)
	var h struct {
		Executions []struct {
			ID     string `json:"execution_id"`
			Status string `json:"status"`
		} `json:"executions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || len(h.Executions) != 1 || h.Executions[0].Status != "STARTED" {
		t.Fatalf("history while running (%v):\n%s", err, r.stdout)
	}

	r = flowEnv(t, dir, env, "stop", id, "-o", "json")
	wantCode(t, r, 0)
	var stop map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &stop); err != nil {
		t.Fatal(err)
	}
	if stop["execution_id"] != id || stop["action"] != "stop_requested" || stop["flow"] != "nap" || stop["pid"].(float64) <= 0 {
		t.Errorf("stop: %s", r.stdout)
	}
	first := end(60 * time.Second)
	wantCode(t, first, 3)
	if !stoppedLine.MatchString(first.stdout) {
		t.Errorf("no STOPPED line:\n%s", first)
	}
	if exists(filepath.Join(dir, "log")) {
		t.Error("the step after the sleep ran")
	}
	r = flowEnv(t, dir, env, "show", id)
	wantCode(t, r, 0)
	wantContains(t, "show", r.stdout, "status     STOPPED\n", "■ long")

	r = flowEnv(t, dir, env, "stop", id)
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "is not running: it ended STOPPED")

	r = flowEnv(t, dir, append(env, "NAP=1ms"), "resume", id)
	wantCode(t, r, 0)
	wantContains(t, "stderr", r.stderr, "resuming execution ", " of flow nap (execution "+id+" ended STOPPED at main/long: interrupted: run stopped); 1 completed step will not run again")
	wantEffects(t, dir, map[string]int{"after": 1})

	// The other commands work on PostgreSQL too.
	r = flowEnv(t, dir, env, "prune", "--older-than", "0s")
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "deleted 2 executions")
}

// The resume of a failed execution, with PostgreSQL.
func TestResumePostgres(t *testing.T) {
	env := []string{"FLOW_STORE=" + pgStore(t)}
	dir := writeFlow(t, resumeFlow)
	wantCode(t, flowEnv(t, dir, env, "exec", "main.flow.hcl", "-p", "day=d1"), 1)
	touch(t, filepath.Join(dir, "ok"))
	r := flowEnv(t, dir, env, "resume", "1")
	wantCode(t, r, 0)
	if !resumingLine.MatchString(r.stderr) {
		t.Errorf("stderr does not say it resumes:\n%s", r.stderr)
	}
	wantEffects(t, dir, map[string]int{"one": 1, "l1": 1, "l2": 1, "l3": 1, "fa": 1, "fb": 1, "gate": 2})
	r = flowEnv(t, dir, env, "show", "2")
	wantCode(t, r, 0)
	wantContains(t, "show", r.stdout, "✓ one", "(from execution 1)")
	wantCode(t, flowEnv(t, dir, env, "exec", "main.flow.hcl", "-p", "day=d1"), 2)
	wantCode(t, flowEnv(t, dir, env, "abandon", "2"), 2)
	if exists(filepath.Join(dir, ".flow")) {
		t.Error("a bbolt store was made beside the PostgreSQL one")
	}
}
