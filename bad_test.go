// The bad-input corpus: testdata/bad holds one directory per case, broken
// flows and data files, each run through the real flow binary as a user
// would run it. The test asserts what every case shares: exit code 2 (the
// flow, its params or its store were refused before anything ran) or 1 (the
// run failed), a message with the position of the mistake (file:line:col
// in a flow, file:line or file@offset in data; the file itself when the
// whole file is wrong), no Go stack trace, and no half-written output: a
// file the run wrote ends with a whole line (the golden file shows its
// content, the part committed before the failure).
//
// Each case's golden.txt starts with the command, "$ flow ARGS" (run in a
// copy of the case directory); the rest is the exit code, stdout, stderr
// (timestamps, durations, the working directory and process ids masked,
// progress lines dropped) and the files the run made or changed.
// go test -run TestBadInputs -update rewrites everything after the
// command line.
package flowbatch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/bad")

// badBinary is the flow binary the corpus runs, built once on first use
// (the other tests of this package do not need it).
var badBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if badBinary.dir != "" {
		os.RemoveAll(badBinary.dir)
	}
	os.Exit(code)
}

func badFlowBinary(t *testing.T) string {
	t.Helper()
	badBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "flow-bad-")
		if err != nil {
			badBinary.err = err
			return
		}
		badBinary.dir = dir
		badBinary.path = filepath.Join(dir, "flow")
		out, err := exec.Command("go", "build", "-o", badBinary.path, "./cmd/flow").CombinedOutput()
		if err != nil {
			badBinary.err = fmt.Errorf("building flow: %v\n%s", err, out)
		}
	})
	if badBinary.err != nil {
		t.Fatal(badBinary.err)
	}
	return badBinary.path
}

// badWholeFile names, for the cases where a whole file is wrong (a store,
// a params file), the file the message must name instead of a position.
var badWholeFile = map[string]string{
	"params-file-array":      "params.json",
	"params-file-truncated":  "params.json",
	"params-file-wrong-type": "params.json",
	"params-unknown":         "cuont",
	"store-not-bbolt":        "junk.db",
	"store-truncated":        "cut.db",
	"store-locked":           "held.db",
	"output-dev-full":        "/dev/full",
}

var (
	// badPosRE is a position: file:line[:col] or file@offset.
	badPosRE = regexp.MustCompile(`[\w./-]+\.(hcl|csv|jsonl|dat|json)(:\d+(:\d+)?|@\d+)`)
	// badTraceRE is what a Go panic or crash prints.
	badTraceRE = regexp.MustCompile(`goroutine \d|panic:|fatal error:|\[signal |\.go:\d+`)
	badMasks   = []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`time=\S+`), "time=TIME"},
		{regexp.MustCompile(`duration=\S+`), "duration=D"},
		{regexp.MustCompile(`\b(pid|PID) \d+`), "$1 PID"},
		{regexp.MustCompile(`\bon host \S+`), "on host HOST"},
		{regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z| UTC)?`), "TIME"},
	}
)

func TestBadInputs(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 40 {
		t.Fatalf("testdata/bad holds %d cases, want at least 40", len(names))
	}
	bin := badFlowBinary(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			badRunCase(t, bin, name)
		})
	}
}

// badRunCase runs one case and checks it.
func badRunCase(t *testing.T, bin, name string) {
	src := filepath.Join("testdata", "bad", name)
	goldenPath := filepath.Join(src, "golden.txt")
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v: a case needs a golden.txt whose first line is the command, $ flow ARGS", err)
	}
	cmdLine, _, _ := strings.Cut(string(golden), "\n")
	if !strings.HasPrefix(cmdLine, "$ flow ") {
		t.Fatalf("%s: the first line must be the command, $ flow ARGS; it is %q", goldenPath, cmdLine)
	}
	args := strings.Fields(strings.TrimPrefix(cmdLine, "$ flow "))

	work := t.TempDir()
	if err := badCopyTree(src, work); err != nil {
		t.Fatal(err)
	}
	before := badSnapshot(t, work)
	if name == "store-locked" {
		badHoldStore(t, bin, work, "held.db", "hold.flow.hcl")
	}
	code, stdout, stderr := badRun(t, bin, work, args)
	after := badSnapshot(t, work)

	all := stdout + stderr
	if m := badTraceRE.FindString(all); m != "" {
		t.Errorf("the output holds %q, a Go stack trace or panic:\n%s", m, all)
	}
	if code != 1 && code != 2 {
		t.Errorf("exit code %d, want 2 (refused before running) or 1 (failed at run time)", code)
	}
	if (args[0] == "validate" || strings.Contains(cmdLine, "--params-file") || strings.Contains(cmdLine, "--store")) && code != 2 {
		t.Errorf("exit code %d: a mistake found before anything runs must exit with 2", code)
	}
	if file, ok := badWholeFile[name]; ok {
		if !strings.Contains(all, file) {
			t.Errorf("the message does not name %s:\n%s", file, all)
		}
	} else if !badPosRE.MatchString(all) {
		t.Errorf("the message has no position (file:line:col, file:line or file@offset):\n%s", all)
	}
	files := badChanges(t, work, before, after)

	got := fmt.Sprintf("%s\nexit %d\n--- stdout\n%s--- stderr\n%s--- files\n%s",
		cmdLine, code, badMask(stdout, work), badMask(stderr, work), files)
	if *update {
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(golden) {
		t.Errorf("output differs from %s (go test -run TestBadInputs -update rewrites it)\n--- got\n%s\n--- want\n%s", goldenPath, got, golden)
	}
}

// badRun runs the binary in dir; a run that does not end within two
// minutes is killed and fails the test.
func badRun(t *testing.T, bin, dir string, args []string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = badEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("flow %s did not end within two minutes\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		t.Fatalf("flow %s: %v (killed by a signal?)\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

// badEnv is the environment of a run: no store or lease from outside, no
// colour.
func badEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOW_STORE=") && !strings.HasPrefix(kv, "FLOW_LEASE=") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	return append(env, "NO_COLOR=1")
}

// badHoldStore starts a flow that keeps the store busy, and waits until it
// runs; the process is killed at the end of the test.
func badHoldStore(t *testing.T, bin, dir, store, flowFile string) {
	t.Helper()
	cmd := exec.Command(bin, "exec", "--store", store, flowFile)
	cmd.Dir = dir
	cmd.Env = badEnv()
	var errb lockedBuf
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(errb.String(), "run started") {
		if time.Now().After(deadline) {
			t.Fatalf("the flow holding %s did not start:\n%s", store, errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedBuf is a buffer written by a process while the test reads it.
type lockedBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// badMask hides what changes from run to run, and drops progress lines
// (their number depends on timing).
func badMask(s, work string) string {
	if real, err := filepath.EvalSymlinks(work); err == nil && real != work {
		s = strings.ReplaceAll(s, real, "$WORK")
	}
	s = strings.ReplaceAll(s, work, "$WORK")
	if badBinary.dir != "" {
		s = strings.ReplaceAll(s, badBinary.dir, "$BIN")
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line == "" || strings.Contains(line, "msg=progress") {
			continue
		}
		for _, m := range badMasks {
			line = m.re.ReplaceAllString(line, m.with)
		}
		out.WriteString(line)
	}
	return out.String()
}

// badCopyTree copies the case directory, but its golden file.
func badCopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "golden.txt" {
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// badSnapshot maps each file under dir (but the default store, .flow/) to
// a digest of its content.
func badSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == ".flow" {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		snap[filepath.ToSlash(rel)] = fmt.Sprintf("%x", sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// badChanges lists the files a run made, changed or removed, with the
// content of small text files, and fails the test for a text output that
// ends in the middle of a line.
func badChanges(t *testing.T, dir string, before, after map[string]string) string {
	t.Helper()
	var names []string
	for p := range after {
		if before[p] != after[p] {
			names = append(names, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, p := range names {
		if _, ok := after[p]; !ok {
			fmt.Fprintf(&b, "%s (removed)\n", p)
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".db") || strings.HasSuffix(p, ".owner") || strings.HasSuffix(p, ".run") {
			fmt.Fprintf(&b, "%s (a store)\n", p)
			continue
		}
		text := utf8.Valid(data) && len(data) <= 4096
		if text && len(data) > 0 && data[len(data)-1] != '\n' {
			t.Errorf("%s ends in the middle of a line: half-written?\n%s", p, data)
		}
		if !text {
			fmt.Fprintf(&b, "%s (%d bytes, sha256 %x)\n", p, len(data), sha256.Sum256(data))
			continue
		}
		fmt.Fprintf(&b, "%s (%d bytes)\n", p, len(data))
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line != "" {
				b.WriteString("  | " + line)
			}
		}
	}
	return b.String()
}
