package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// resumeFlow appends a line to ./log in each step with an effect; gate
// fails until the file ./ok exists.
const resumeFlow = `flow "r" {
  param "day" {
    type = string
  }
  param "note" {
    type        = string
    default     = ""
    identifying = false
  }

  vars = { total = 0 }

  exec "one" {
    command = ["sh", "-c", "echo one >> log"]
  }
  set "add" {
    assign = { total = var.total + 5 }
  }
  loop "l" {
    vars  = { i = 0 }
    while = var.i < 3

    set "inc" {
      assign = { i = var.i + 1, total = var.total + 1 }
    }
    exec "mark" {
      command = ["sh", "-c", "echo l${var.i} >> log"]
    }
  }
  fork "f" {
    for_each = ["a", "b"]

    exec "x" {
      command = ["sh", "-c", "echo f${each.value} >> log"]
    }
  }
  exec "gate" {
    command = ["sh", "-c", "echo gate >> log; test -f ok"]
  }

  output "total" {
    value = var.total
  }
}
`

// sideEffects counts the lines of dir/log.
func sideEffects(t *testing.T, dir string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		n[l]++
	}
	return n
}

func wantEffects(t *testing.T, dir string, want map[string]int) {
	t.Helper()
	if got := sideEffects(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("side effects %v, want %v", got, want)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

var resumingLine = regexp.MustCompile(`(?m)^resuming execution 2 of flow r \(execution 1 ended FAILED at main/gate: sh exited with code 1\); (\d+) completed steps will not run again$`)

// A failed execution resumes, by exec with the same params or by flow
// resume: the completed steps' effects are not repeated, their variables
// are back, and the failed step runs again.
func TestResumeAfterFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"exec again", []string{"exec", "main.flow.hcl", "-p", "day=d1", "-o", "json"}},
		{"resume", []string{"resume", "1", "-o", "json"}},
		// A non-identifying param may change on resume.
		{"resume with a non-identifying param", []string{"resume", "1", "-p", "note=again", "-o", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFlow(t, resumeFlow)
			r := flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1", "-o", "json")
			wantCode(t, r, 1)
			if res := decodeOne(t, r.stdout); res.ExecutionID != "1" || res.Status != "FAILED" || res.Error.Step != "main/gate" {
				t.Fatalf("first run: %+v", res)
			}
			wantNotContains(t, "stderr", r.stderr, "resuming")
			wantEffects(t, dir, map[string]int{"one": 1, "l1": 1, "l2": 1, "l3": 1, "fa": 1, "fb": 1, "gate": 1})

			touch(t, filepath.Join(dir, "ok"))
			r = flowIn(t, dir, tc.args...)
			wantCode(t, r, 0)
			res := decodeOne(t, r.stdout)
			if res.ExecutionID != "2" || res.Status != "COMPLETED" {
				t.Errorf("resumed run: %+v", res)
			}
			wantOutputs(t, res, map[string]string{"total": "8"})
			m := resumingLine.FindStringSubmatch(r.stderr)
			if m == nil || m[1] == "0" {
				t.Errorf("stderr does not say it resumes:\n%s", r.stderr)
			}
			wantContains(t, "stderr", r.stderr, `msg="step restored from an earlier execution" step=main/one status=COMPLETED`)
			wantNotContains(t, "stderr", r.stderr, `msg="step completed" step=main/one`)
			wantEffects(t, dir, map[string]int{"one": 1, "l1": 1, "l2": 1, "l3": 1, "fa": 1, "fb": 1, "gate": 2})
		})
	}
}

// A completed instance is refused (exit code 2) until --rerun.
func TestCompletedInstance(t *testing.T) {
	dir := writeFlow(t, resumeFlow)
	touch(t, filepath.Join(dir, "ok"))
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 0)

	r := flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "flow: flow r already completed with these params in execution 1; add --rerun to run it again as a new instance")
	if r.stdout != "" {
		t.Errorf("stdout: %q", r.stdout)
	}
	// A non-identifying param does not make another instance.
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1", "-p", "note=x"), 2)
	r = flowIn(t, dir, "resume", "1")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "already completed")
	wantEffects(t, dir, map[string]int{"one": 1, "l1": 1, "l2": 1, "l3": 1, "fa": 1, "fb": 1, "gate": 1})

	r = flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1", "--rerun", "-o", "json")
	wantCode(t, r, 0)
	if res := decodeOne(t, r.stdout); res.ExecutionID != "2" {
		t.Errorf("rerun: %+v", res)
	}
	wantNotContains(t, "stderr", r.stderr, "resuming")
	wantEffects(t, dir, map[string]int{"one": 2, "l1": 2, "l2": 2, "l3": 2, "fa": 2, "fb": 2, "gate": 2})
	// Other params are another instance.
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d2"), 0)
}

// --no-store runs as exec did before stores: nothing is kept.
func TestNoStore(t *testing.T) {
	dir := writeFlow(t, resumeFlow)
	touch(t, filepath.Join(dir, "ok"))
	for range 2 {
		r := flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1", "--no-store", "-o", "json")
		wantCode(t, r, 0)
		if id := decodeOne(t, r.stdout).ExecutionID; !regexp.MustCompile(`^\d{8}T\d{6}-`).MatchString(id) {
			t.Errorf("execution id %q", id)
		}
	}
	if exists(filepath.Join(dir, ".flow")) {
		t.Error("--no-store made a store")
	}
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1", "--no-store", "--rerun"), 2)
}

const secretFlow = `flow "s" {
  param "user" {
    type = string
  }
  param "password" {
    type      = string
    sensitive = true
  }
  exec "check" {
    command = ["sh", "-c", "test -f ok && test \"$0\" = hunter2", param.password]
  }
}
`

// Sensitive params are not kept: resume asks for them; identifying params
// cannot change.
func TestResumeParams(t *testing.T) {
	dir := writeFlow(t, secretFlow)
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "user=ada", "-p", "password=hunter2"), 1)
	r := flowIn(t, dir, "show", "1")
	wantCode(t, r, 0)
	wantContains(t, "show", r.stdout, "password=(sensitive)", "user=ada")
	wantNotContains(t, "show", r.stdout, "hunter2")
	touch(t, filepath.Join(dir, "ok"))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"sensitive missing", []string{"resume", "1"},
			"flow: execution 1 was given sensitive params, which the store does not keep; give them again: -p password=..."},
		{"identifying changed", []string{"resume", "1", "-p", "password=hunter2", "-p", "user=bob"},
			`flow: -p user: param "user" identifies the job instance and cannot change on resume (it is "ada")`},
		{"unknown param", []string{"resume", "1", "-p", "colour=red"}, `no param "colour"`},
		{"unknown execution", []string{"resume", "7", "-p", "password=hunter2"}, "flow: execution 7 not found in store .flow/flow.db"},
		{"bad id", []string{"resume", "x"}, `flow: execution id "x": use the number flow history shows`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := flowIn(t, dir, tc.args...)
			wantCode(t, r, 2)
			wantContains(t, "stderr", r.stderr, tc.want)
		})
	}
	r = flowIn(t, dir, "resume", "1", "-p", "password=hunter2")
	wantCode(t, r, 0)
	wantContains(t, "stderr", r.stderr, "resuming execution 2 of flow s (execution 1 ended FAILED at main/check: sh exited with code 1); 0 completed steps will not run again")
}

// runStarted waits for the "run started" line and returns the execution id.
func runStarted(t *testing.T, stderr *lockedBuffer) string {
	t.Helper()
	re := regexp.MustCompile(`msg="run started" flow=\S+ execution_id=(\S+)`)
	eventually(t, "the run to start", func() bool { return re.MatchString(stderr.String()) }, stderr)
	return re.FindStringSubmatch(stderr.String())[1]
}

// napFlow sleeps for $NAP (60s by default) between two steps.
const napFlow = `flow "nap" {
  log "before" {
    message = "before"
  }
  sleep "long" {
    duration = env("NAP", "60s")
  }
  exec "after" {
    command = ["sh", "-c", "echo after >> log"]
  }
}
`

func startFlowEnv(t *testing.T, dir string, env []string, args ...string) (*lockedBuffer, *lockedBuffer, func(time.Duration) result) {
	t.Helper()
	cmd, stdout, stderr := commandEnv(t, dir, env, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // harmless once it ended
	return stdout, stderr, func(limit time.Duration) result { return waitWithin(t, limit, cmd, stdout, stderr) }
}

// With a bbolt store, a second process is refused within a second or so;
// flow stop signals the process that holds the store, which ends STOPPED;
// flow resume then completes the execution.
func TestStopBolt(t *testing.T) {
	dir := writeFlow(t, napFlow)
	_, stderr, end := startFlowEnv(t, dir, nil, "exec", "main.flow.hcl", "--log-level", "debug")
	id := runStarted(t, stderr)
	eventually(t, "the sleep to start", func() bool { return strings.Contains(stderr.String(), "step=main/long") }, stderr)

	store := filepath.Join(".flow", "flow.db")
	for _, args := range [][]string{
		{"exec", "main.flow.hcl"},
		{"history"},
		{"resume", id},
	} {
		start := time.Now()
		r := flowIn(t, dir, args...)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, "flow: store "+store+" is in use by pid ", "exec main.flow.hcl")
		// Generous: the store waits one second for the file.
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("flow %s took %s to give up", strings.Join(args, " "), d)
		}
	}

	r := flowIn(t, dir, "stop", "99")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "flow: cannot stop execution 99: store "+store+" is held by pid ", ", which runs execution "+id+" of flow nap, not execution 99")

	r = flowIn(t, dir, "stop", id)
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "sent SIGTERM to pid ", "which runs execution "+id+" of flow nap and holds store "+store+": it stops at its next safe point")

	first := end(30 * time.Second)
	wantCode(t, first, 3)
	if !stoppedLine.MatchString(first.stdout) {
		t.Errorf("no STOPPED line:\n%s", first)
	}
	if exists(filepath.Join(dir, "log")) {
		t.Error("the step after the sleep ran")
	}

	r = flowIn(t, dir, "stop", id)
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "flow: execution "+id+" of flow nap is not running: it ended STOPPED")

	r = flowEnv(t, dir, []string{"NAP=1ms"}, "resume", id)
	wantCode(t, r, 0)
	wantContains(t, "stderr", r.stderr, "resuming execution 2 of flow nap (execution 1 ended STOPPED at main/long: interrupted: run stopped); 1 completed step will not run again")
	wantEffects(t, dir, map[string]int{"after": 1})
}

// Unknown executions and those already ended cannot be stopped.
func TestStopNotRunning(t *testing.T) {
	dir := writeFlow(t, resumeFlow)
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stop", "1"}, "flow: execution 1 of flow r is not running: it ended FAILED"},
		{[]string{"stop", "2"}, "flow: execution 2 not found in store .flow/flow.db"},
		{[]string{"stop", "-o", "json", "2"}, "not found"},
		{[]string{"stop", "0"}, `execution id "0"`},
	} {
		r := flowIn(t, dir, tc.args...)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, tc.want)
		if r.stdout != "" {
			t.Errorf("flow %v printed %q", tc.args, r.stdout)
		}
	}
	r := flowEnv(t, t.TempDir(), nil, "stop", "1")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "flow: no store at .flow/flow.db: nothing has run with it yet")
}

// An abandoned execution is not resumed: its instance starts afresh.
func TestAbandon(t *testing.T) {
	dir := writeFlow(t, resumeFlow)
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1)

	r := flowIn(t, dir, "abandon", "1")
	wantCode(t, r, 0)
	if want := "execution 1 of flow r abandoned (it was FAILED); the next flow exec with its params starts afresh\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = flowIn(t, dir, "abandon", "1", "-o", "json")
	wantCode(t, r, 0)
	if got, want := compactJSON(t, r.stdout), `{"execution_id":"1","flow":"r","status":"ABANDONED","was":"ABANDONED"}`; got != want {
		t.Errorf("json: %s, want %s", got, want)
	}
	r = flowIn(t, dir, "resume", "1")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "flow: cannot resume: execution 1 was abandoned; flow exec starts flow r afresh")

	touch(t, filepath.Join(dir, "ok"))
	r = flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1")
	wantCode(t, r, 0)
	wantNotContains(t, "stderr", r.stderr, "resuming", "restored")
	wantEffects(t, dir, map[string]int{"one": 2, "l1": 2, "l2": 2, "l3": 2, "fa": 2, "fb": 2, "gate": 2})

	for _, tc := range []struct {
		id, want string
	}{
		{"2", "flow: execution 2 of flow r completed: there is nothing to abandon"},
		{"3", "flow: execution 3 not found in store .flow/flow.db"},
	} {
		r := flowIn(t, dir, "abandon", tc.id)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, tc.want)
	}
	r = flowIn(t, dir, "history", "--status", "abandoned")
	wantCode(t, r, 0)
	wantContains(t, "history", r.stdout, "ABANDONED")
}

// historyIDs runs flow history with args and returns the ids it lists.
func historyIDs(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	r := flowIn(t, dir, append([]string{"history", "-o", "json"}, args...)...)
	wantCode(t, r, 0)
	var h struct {
		Executions []map[string]any `json:"executions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	ids := []string{}
	for _, e := range h.Executions {
		ids = append(ids, e["execution_id"].(string))
	}
	return ids
}

func TestHistory(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.flow.hcl": resumeFlow,
		"ok.flow.hcl": `flow "fine" {
  param "n" {
    type = number
  }
  log "hi" {
    message = "hi"
  }
  output "n" {
    value = param.n
  }
}
`,
	})
	// Nothing has run yet: an empty history, no store made.
	r := flowIn(t, dir, "history")
	wantCode(t, r, 0)
	if r.stdout != "no executions\n" {
		t.Errorf("empty history: %q", r.stdout)
	}
	if got := historyIDs(t, dir); len(got) != 0 {
		t.Errorf("empty history: %v", got)
	}
	if exists(filepath.Join(dir, ".flow")) {
		t.Error("history made a store")
	}

	wantCode(t, flowIn(t, dir, "exec", "ok.flow.hcl", "-p", "n=1"), 0)      // 1
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1) // 2
	wantCode(t, flowIn(t, dir, "exec", "ok.flow.hcl", "-p", "n=2"), 0)      // 3
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1) // 4, resumes 2
	wantCode(t, flowIn(t, dir, "exec", "ok.flow.hcl", "-p", "n=1"), 2)      // refused: no execution
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d2"), 1) // 5

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{"5", "4", "3", "2", "1"}},
		{"one flow", []string{"fine"}, []string{"3", "1"}},
		{"status", []string{"--status", "FAILED"}, []string{"5", "4", "2"}},
		{"status in lower case", []string{"--status", "completed"}, []string{"3", "1"}},
		{"flow and status", []string{"r", "--status", "COMPLETED"}, []string{}},
		{"limit", []string{"--limit", "2"}, []string{"5", "4"}},
		{"flow and limit", []string{"r", "--limit", "1"}, []string{"5"}},
		{"no limit", []string{"--limit", "0"}, []string{"5", "4", "3", "2", "1"}},
		{"unknown flow", []string{"nope"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := historyIDs(t, dir, tc.args...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}

	r = flowIn(t, dir, "history")
	wantCode(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("want a header and 5 rows:\n%s", r.stdout)
	}
	header := regexp.MustCompile(`^ID +FLOW +STATUS +STARTED +DURATION +FAILED STEP / ERROR$`)
	if !header.MatchString(lines[0]) {
		t.Errorf("header: %q", lines[0])
	}
	row := regexp.MustCompile(`^4 +r +FAILED +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ +\S+ +main/gate: sh exited with code 1$`)
	if !row.MatchString(lines[2]) {
		t.Errorf("row of execution 4: %q", lines[2])
	}
	if !regexp.MustCompile(`^3 +fine +COMPLETED +`).MatchString(lines[3]) {
		t.Errorf("row of execution 3: %q", lines[3])
	}

	// Each execution has the documented keys.
	r = flowIn(t, dir, "history", "-o", "json", "--limit", "1", "fine")
	var h struct {
		Executions []map[string]json.RawMessage `json:"executions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || len(h.Executions) != 1 {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	var keys []string
	for k := range h.Executions[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"created", "duration_ms", "ended", "error", "execution_id", "exit_status", "file", "flow", "instance_id",
		"outputs", "owner", "params", "resumed_from", "started", "status", "stop_requested", "updated"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if got := compactJSON(t, string(h.Executions[0]["outputs"])); got != `{"n":2}` {
		t.Errorf("outputs %s", got)
	}
	if got := compactJSON(t, string(h.Executions[0]["params"])); got != `{"n":"2"}` {
		t.Errorf("params %s", got)
	}

	for _, args := range [][]string{
		{"history", "--status", "BORED"},
		{"history", "--limit", "-1"},
		{"history", "a", "b"},
		{"history", "-o", "yaml"},
	} {
		wantCode(t, flowIn(t, dir, args...), 2)
	}
}

func TestPrune(t *testing.T) {
	dir := writeFlow(t, resumeFlow)
	r := flowIn(t, dir, "prune", "--older-than", "30d")
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.stdout, "deleted 0 executions that ended before ")

	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1"), 1)
	wantCode(t, flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d2"), 1)
	for _, age := range []string{"30d", "1d12h", "36h", "1.5d"} {
		r := flowIn(t, dir, "prune", "--older-than", age)
		wantCode(t, r, 0)
		wantContains(t, "stdout", r.stdout, "deleted 0 executions that ended before ")
	}
	if got := historyIDs(t, dir); len(got) != 2 {
		t.Fatalf("history after pruning nothing: %v", got)
	}
	r = flowIn(t, dir, "prune", "--older-than", "0s", "-o", "json")
	wantCode(t, r, 0)
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out["deleted"] != 2.0 || out["before"] == nil || len(out) != 2 {
		t.Errorf("prune json: %s", r.stdout)
	}
	if got := historyIDs(t, dir); len(got) != 0 {
		t.Errorf("history after pruning all: %v", got)
	}
	// The pruned instance is forgotten: the next run starts afresh.
	r = flowIn(t, dir, "exec", "main.flow.hcl", "-p", "day=d1")
	wantCode(t, r, 1)
	wantNotContains(t, "stderr", r.stderr, "resuming")

	for _, args := range [][]string{
		{"prune"},
		{"prune", "--older-than", "soon"},
		{"prune", "--older-than", "-3h"},
		{"prune", "--older-than", "3x"},
		{"prune", "--older-than", "1h", "extra"},
	} {
		r := flowIn(t, dir, args...)
		wantCode(t, r, 2)
	}
}

// A file that is not a store, and an unreachable database, end with exit
// code 2 and a message; a password in the DSN is never shown.
func TestStoreErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.flow.hcl": resumeFlow, "junk.db": strings.Repeat("not a database\n", 500)})
	r := flowIn(t, dir, "--store", "junk.db", "exec", "main.flow.hcl", "-p", "day=d1")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "junk.db is not a flow store")
	wantNotContains(t, "stderr", r.stderr, "run started")

	dsn := "postgres://ada:s3cr%40t-pw@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2"
	for _, args := range [][]string{
		{"--store", dsn, "exec", "main.flow.hcl", "-p", "day=d1"},
		{"--store", dsn, "history"},
		{"--store", "postgresql://ada:s3cr%40t-pw@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2&password=s3cr%40t-pw", "show", "1"},
	} {
		r := flowIn(t, dir, args...)
		wantCode(t, r, 2)
		wantContains(t, "stderr", r.stderr, "flow: cannot open store postgres", "ada:xxxxx@127.0.0.1:1/nowhere")
		wantNotContains(t, "stderr", r.stderr, "s3cr", "run started")
	}
	// FLOW_STORE chooses the store; --store wins over it.
	r = flowEnv(t, dir, []string{"FLOW_STORE=junk.db"}, "history")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, "junk.db is not a flow store")
	r = flowEnv(t, dir, []string{"FLOW_STORE=junk.db"}, "--store", "other.db", "history")
	wantCode(t, r, 0)
	r = flowEnv(t, dir, []string{"FLOW_LEASE=soon"}, "exec", "main.flow.hcl", "-p", "day=d1")
	wantCode(t, r, 2)
	wantContains(t, "stderr", r.stderr, `FLOW_LEASE "soon"`)
}
