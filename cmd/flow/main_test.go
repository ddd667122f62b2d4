// The tests of this package build the flow binary once and drive it with
// os/exec, as a user would: arguments, exit codes, stdout and stderr.
package main_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// flowBin is the binary under test, built by TestMain.
var flowBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "flow-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flowBin = filepath.Join(dir, "flow")
	args := []string{"build", "-o", flowBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	// The tests run in the package directory: "." is ./cmd/flow.
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building flow:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a stream that tests read while the process runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is how one run of the binary ended.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// command prepares the binary with args, run in dir (the test's working
// directory when empty).
func command(t *testing.T, dir string, args ...string) (*exec.Cmd, *lockedBuffer, *lockedBuffer) {
	t.Helper()
	return commandEnv(t, dir, nil, args...)
}

// commandEnv is command with env (NAME=value) added to the environment.
// FLOW_STORE and FLOW_LEASE are not inherited: without them a run keeps
// its executions in dir/.flow/flow.db, or, in the package directory, in a
// store of the test's own.
func commandEnv(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *lockedBuffer, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(flowBin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOW_STORE=") && !strings.HasPrefix(kv, "FLOW_LEASE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	if dir == "" {
		cmd.Env = append(cmd.Env, "FLOW_STORE="+filepath.Join(t.TempDir(), "flow.db"))
	}
	cmd.Env = append(cmd.Env, env...)
	if raceEnabled && os.Getenv("GORACE") == "" {
		// A race-enabled binary otherwise sleeps for a second at exit.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=10")
	}
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, stdout, stderr
}

// wait waits for a started command, killing it when it hangs.
func wait(t *testing.T, cmd *exec.Cmd, stdout, stderr *lockedBuffer) result {
	t.Helper()
	return waitWithin(t, 2*time.Minute, cmd, stdout, stderr)
}

// waitWithin is wait with a bound, which only detects hangs.
func waitWithin(t *testing.T, limit time.Duration, cmd *exec.Cmd, stdout, stderr *lockedBuffer) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("flow %s did not end within %s\n--- stderr:\n%s", strings.Join(cmd.Args[1:], " "), limit, stderr)
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("flow %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, r)
	}
	return r
}

// flowIn runs the binary with args in dir and returns how it ended.
func flowIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd, stdout, stderr := command(t, dir, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return wait(t, cmd, stdout, stderr)
}

// flowEnv runs the binary with args in dir, with env added to its
// environment.
func flowEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd, stdout, stderr := commandEnv(t, dir, env, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return wait(t, cmd, stdout, stderr)
}

// run runs the binary in the package directory.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return flowIn(t, "", args...)
}

// writeFiles writes name → content into a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeFlow writes src as main.flow.hcl in a new temporary directory and
// returns the directory.
func writeFlow(t *testing.T, src string) string {
	t.Helper()
	return writeFiles(t, map[string]string{"main.flow.hcl": src})
}

// posOf returns "LINE:COL" of the first occurrence of needle in src.
func posOf(t *testing.T, src, needle string) string {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("%q not in source", needle)
	}
	line := strings.Count(src[:i], "\n") + 1
	col := i - strings.LastIndex(src[:i], "\n")
	return fmt.Sprintf("%d:%d", line, col)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// eventually polls cond every 10ms until it holds, failing the test after
// a generous bound.
func eventually(t *testing.T, what string, cond func() bool, stderr *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n--- stderr:\n%s", what, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit code %d, got:\n%s", code, r)
	}
}

func wantContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			t.Errorf("%s does not contain %q:\n%s", what, s, got)
		}
	}
}

func wantNotContains(t *testing.T, what, got string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(got, s) {
			t.Errorf("%s contains %q:\n%s", what, s, got)
		}
	}
}
