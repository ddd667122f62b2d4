package faults_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// flowBin is the flow binary, built once by TestMain.
var flowBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flow-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flowBin = filepath.Join(dir, "flow")
	build := exec.Command("go", "build", "-o", flowBin, "github.com/flowbatch/flow/cmd/flow")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building flow:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// No test may leave a goroutine behind (the in-process runs above
	// all: cancelled batches, closed datasources).
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// result is how a run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// flowRun runs the binary in dir with args; shell, when set, is a shell
// command run first in the same process (ulimit). A run that does not end
// within limit is killed and fails the test.
func flowRun(t *testing.T, dir, shell string, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var cmd *exec.Cmd
	if shell != "" {
		cmd = exec.CommandContext(ctx, "sh", append([]string{"-c", shell + ` && exec "$0" "$@"`, flowBin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, flowBin, args...)
	}
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOW_STORE=") && !strings.HasPrefix(kv, "FLOW_LEASE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("flow %s did not end within %s\n%s", strings.Join(args, " "), limit, r)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("flow %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r
}

var traceRE = regexp.MustCompile(`goroutine \d|panic:|fatal error:|\[signal |\.go:\d+`)

// wantCleanFailure asserts a run failed (exit code 1) with a message that
// holds each of subs, and no Go stack trace.
func wantCleanFailure(t *testing.T, r result, subs ...string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("want exit code 1 (failed), got:\n%s", r)
	}
	all := r.stdout + r.stderr
	if m := traceRE.FindString(all); m != "" {
		t.Errorf("the output holds %q, a Go stack trace or panic:\n%s", m, all)
	}
	for _, s := range subs {
		if !strings.Contains(all, s) {
			t.Errorf("the output does not say %q:\n%s", s, all)
		}
	}
}

func wantCompleted(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 || !strings.Contains(r.stdout, "COMPLETED") {
		t.Fatalf("want the run COMPLETED, got:\n%s", r)
	}
}

// writeFiles writes name → content into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// paymentsCSV is n payment rows (id, account, amount), the same for a
// given n.
func paymentsCSV(n int) string {
	var b strings.Builder
	b.WriteString("id,account,amount\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,acc%03d,%d.%02d\n", i, i*7919%211, i*31%100000, i%100)
	}
	return b.String()
}
