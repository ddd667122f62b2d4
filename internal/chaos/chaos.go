// Package chaos drives the real flow binary through crashes: it runs a flow
// of loops, forks and parallel branches whose exec steps append their own
// path to a file, kills the process (SIGKILL, or SIGTERM for a graceful
// stop) at random moments, runs the same command again until the execution
// completes, and then checks that every step's effect is there exactly once,
// except where a killed execution had the step running (exec is
// at-least-once when it is killed mid-way), and that the flow's outputs are
// those of an uninterrupted run. The rule it checks is the one
// docs/durability.md states under "Guarantees": an exec step whose
// completion was committed never runs again; one that was running when the
// process died runs again on resume.
//
// Between runs it reads the bbolt store directly: which execution the killed
// process had, which exec steps that execution had started and not finished
// (the only ones allowed to appear twice), and whether the file passes
// bbolt's consistency check.
//
// The test of this package uses it with a few dozen kills; the Driver is
// meant to grow into a standalone chaos program.
package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
)

// FlowParams are the params of testdata/chaos.flow.hcl that shape it.
type FlowParams struct {
	// Rounds is how many iterations the outer loop makes.
	Rounds int
	// Items is what the fork inside the outer loop iterates.
	Items []string
	// BranchIterations is the length of the loops in the parallel branches.
	BranchIterations int
	// Delay is how long each effect sleeps after writing its line.
	Delay time.Duration
}

// DefaultParams is the flow's own defaults with a 20ms delay.
var DefaultParams = FlowParams{Rounds: 4, Items: []string{"a", "b", "c"}, BranchIterations: 3, Delay: 20 * time.Millisecond}

// Args returns the -p flags for flow exec, with out as the effect file.
func (p FlowParams) Args(out string) []string {
	items, _ := json.Marshal(p.Items)
	if p.Items == nil {
		items = []byte("[]")
	}
	return []string{
		"-p", "out=" + out,
		"-p", "delay=" + strconv.FormatFloat(p.Delay.Seconds(), 'f', -1, 64),
		"-p", "rounds=" + strconv.Itoa(p.Rounds),
		"-p", "items=" + string(items),
		"-p", "branch_iterations=" + strconv.Itoa(p.BranchIterations),
	}
}

// ExpectedPaths returns the path of every exec step the flow runs with p,
// sorted: it mirrors the structure of testdata/chaos.flow.hcl, so that the
// check does not depend on what the runs wrote.
func ExpectedPaths(p FlowParams) []string {
	out := []string{"main/first"}
	for i := 0; i < p.Rounds; i++ {
		for j := range p.Items {
			out = append(out, fmt.Sprintf("main/outer#%d/each[%d]/touch", i, j))
		}
		out = append(out, fmt.Sprintf("main/outer#%d/after", i))
	}
	for k := 0; k < p.BranchIterations; k++ {
		out = append(out, fmt.Sprintf("main/branches/left#%d/work", k))
	}
	// right is an until loop: at least one iteration, then until n > iterations.
	for k := 0; k < max(p.BranchIterations+1, 1); k++ {
		out = append(out, fmt.Sprintf("main/branches/right#%d/work", k))
	}
	out = append(out, "main/branches/middle/one", "main/branches/middle/inner#0/two", "main/branches/middle/inner#1/two")
	out = append(out, "main/last")
	sort.Strings(out)
	return out
}

// FlowFile returns the absolute path of the flow, found in dir (normally
// the package's testdata).
func FlowFile(dir string) (string, error) {
	return filepath.Abs(filepath.Join(dir, "chaos.flow.hcl"))
}

// Signal is how an attempt is interrupted.
type Signal string

// Interruptions.
const (
	None Signal = ""
	Kill Signal = "SIGKILL"
	Term Signal = "SIGTERM"
)

func (s Signal) sys() syscall.Signal {
	if s == Term {
		return syscall.SIGTERM
	}
	return syscall.SIGKILL
}

// Outcome is how one run of the binary ended.
type Outcome string

// Outcomes.
const (
	Completed Outcome = "completed" // exit 0
	Killed    Outcome = "killed"    // died of a signal
	Stopped   Outcome = "stopped"   // exit 3 after SIGTERM
	// AlreadyDone: exit 2 because the previous run completed the instance
	// before it was killed.
	AlreadyDone Outcome = "already completed"
)

// Attempt is one run of flow exec in a round.
type Attempt struct {
	N      int
	Signal Signal        // sent, or None
	Delay  time.Duration // after the start, when Signal is set
	// Landed: the signal was sent before the process ended by itself.
	Landed   bool
	Outcome  Outcome
	ExitCode int // -1 when killed
	Elapsed  time.Duration
	// Execution is the execution the run made (0 when it made none), and
	// Status the status the store had for it when the process was gone.
	Execution   int64
	ResumedFrom int64
	Status      flow.Status
	// InFlight lists the exec steps that execution recorded as started and
	// not finished.
	InFlight []string
	Stdout   string
	Stderr   string
}

// Round is one execution of the flow, from a fresh store to COMPLETED
// through the interruptions of its attempts.
type Round struct {
	Dir, Store, Out string
	Seed            uint64
	Attempts        []*Attempt
	Kills, Stops    int
	// Resumes counts the executions that carried on from an earlier one.
	Resumes int
	// Allowed counts, per path, the killed executions that had it running:
	// how many extra times its effect may appear.
	Allowed map[string]int
	// Final is the completed execution, as the store has it.
	Final *store.Execution
	// Outputs are the final outputs as flow exec --output json printed
	// them, when the last run completed (nil when it was killed after the
	// execution completed).
	Outputs map[string]any
	// Effects counts the lines of the effect file.
	Effects map[string]int
	Verdict Verdict
}

// Driver runs rounds against one binary and flow.
type Driver struct {
	Binary   string // the flow binary
	FlowFile string // absolute path of chaos.flow.hcl
	Params   FlowParams
	// Span bounds the random delay before a signal: about the length of
	// an uninterrupted run (Reference sets it; default one second).
	Span time.Duration
	// MaxInterrupts is the most signals a round sends (at least 1).
	MaxInterrupts int
	// TermRatio is the share of signals that are SIGTERM instead of SIGKILL.
	TermRatio float64
	// MaxAttempts bounds the runs of one round.
	MaxAttempts int
	// Timeout bounds one run of the binary.
	Timeout time.Duration
	// Env is added to each run's environment.
	Env []string
}

func (d *Driver) defaults() {
	if d.MaxInterrupts < 1 {
		d.MaxInterrupts = 3
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 4*d.MaxInterrupts + 4
	}
	if d.Timeout <= 0 {
		d.Timeout = 2 * time.Minute
	}
	if d.Span <= 0 {
		d.Span = time.Second
	}
}

// Reference runs the flow once without interruption in dir and returns the
// round, whose Final outputs are what every interrupted round must end
// with. When d.Span is not set, it becomes the run's duration.
func (d *Driver) Reference(ctx context.Context, dir string) (*Round, error) {
	span := d.Span
	d.defaults()
	r := d.newRound(dir, 0)
	a, err := d.attempt(ctx, r, 1, None, 0)
	if err != nil {
		return r, err
	}
	r.Attempts = append(r.Attempts, a)
	if a.Outcome != Completed {
		return r, fmt.Errorf("reference run: %s (exit %d)\n%s", a.Outcome, a.ExitCode, a.Stderr)
	}
	if err := r.finish(ctx, a, d.Params); err != nil {
		return r, err
	}
	if span <= 0 {
		d.Span = a.Elapsed
	}
	if v := r.Verdict; !v.OK() || v.Duplicated() > 0 {
		return r, fmt.Errorf("reference run: %s", v)
	}
	return r, nil
}

func (d *Driver) newRound(dir string, seed uint64) *Round {
	return &Round{Dir: dir, Store: filepath.Join(dir, "flow.db"), Out: filepath.Join(dir, "effects.txt"),
		Seed: seed, Allowed: map[string]int{}}
}

// Round runs one round in dir (which should be empty): up to
// MaxInterrupts signals at random delays drawn from seed, then runs until
// the execution completes. The error is about the round not reaching
// COMPLETED or the store being damaged; the effect check is in
// Round.Verdict.
func (d *Driver) Round(ctx context.Context, dir string, seed uint64) (*Round, error) {
	d.defaults()
	rng := newRand(seed)
	r := d.newRound(dir, seed)
	interrupts := 1 + rng.IntN(d.MaxInterrupts)
	for n := 1; ; n++ {
		if n > d.MaxAttempts {
			return r, fmt.Errorf("round not completed after %d runs", d.MaxAttempts)
		}
		sig, delay := None, time.Duration(0)
		if interrupts > 0 {
			sig = Kill
			if rng.Float64() < d.TermRatio {
				sig = Term
			}
			delay = randomDelay(rng, d.Span)
		}
		a, err := d.attempt(ctx, r, n, sig, delay)
		if a != nil {
			r.Attempts = append(r.Attempts, a)
		}
		if err != nil {
			return r, err
		}
		if a.Landed {
			interrupts--
		}
		switch a.Outcome {
		case Completed:
			return r, r.finish(ctx, a, d.Params)
		case AlreadyDone:
			prev := r.Attempts[len(r.Attempts)-2]
			if prev.Status != flow.Completed {
				return r, fmt.Errorf("run %d: the instance is said to be completed, but run %d left execution %d %s\n%s", n, prev.N, prev.Execution, prev.Status, a.Stderr)
			}
			return r, r.finish(ctx, a, d.Params)
		case Killed:
			r.Kills++
		case Stopped:
			r.Stops++
		}
		if err := r.inspect(ctx, a); err != nil {
			return r, err
		}
	}
}

// attempt runs flow exec once, sending sig after delay unless it is None.
func (d *Driver) attempt(ctx context.Context, r *Round, n int, sig Signal, delay time.Duration) (*Attempt, error) {
	args := append([]string{"exec", d.FlowFile, "--store", r.Store, "--output", "json"}, d.Params.Args(r.Out)...)
	return runAttempt(ctx, process{bin: d.Binary, dir: r.Dir, args: args, env: d.Env, timeout: d.Timeout}, n, sig, delay)
}

// process is a run of the binary a driver starts.
type process struct {
	bin, dir  string
	args, env []string
	timeout   time.Duration
}

// runAttempt runs p once, sending sig after delay unless it is None, and
// says how it ended: killed, completed, stopped (SIGTERM, exit code 3) or
// already done (a run after the one that completed); anything else is an
// error with the run's output.
func runAttempt(ctx context.Context, p process, n int, sig Signal, delay time.Duration) (*Attempt, error) {
	args := p.args
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cmd := exec.Command(p.bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), p.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Grandchildren (the exec steps' shells) do not hold these pipes, but
	// bound the wait anyway.
	cmd.WaitDelay = 10 * time.Second
	a := &Attempt{N: n, Signal: sig, Delay: delay}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %d: %w", n, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timer <-chan time.Time
	if sig != None {
		t := time.NewTimer(delay)
		defer t.Stop()
		timer = t.C
	}
	var werr error
	waiting := true
	for waiting {
		select {
		case werr = <-done:
			waiting = false
		case <-timer:
			timer = nil
			if err := cmd.Process.Signal(sig.sys()); err == nil {
				a.Landed = true
			}
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return a, fmt.Errorf("run %d (%s) did not end within %s\n%s", n, strings.Join(args, " "), p.timeout, stderr.String())
		}
	}
	a.Elapsed = time.Since(start)
	a.Stdout, a.Stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return a, fmt.Errorf("run %d: %w", n, werr)
	}
	ps := cmd.ProcessState
	ws, _ := ps.Sys().(syscall.WaitStatus)
	a.ExitCode = ps.ExitCode()
	switch {
	case ws.Signaled():
		if !a.Landed {
			return a, fmt.Errorf("run %d died of %s without being signalled\n%s", n, ws.Signal(), a.Stderr)
		}
		// A SIGTERM before the process handles signals kills it too.
		a.Outcome = Killed
	case a.ExitCode == 0:
		a.Outcome = Completed
	case a.ExitCode == 3 && a.Landed && sig == Term:
		a.Outcome = Stopped
	case a.ExitCode == 2 && n > 1 && strings.Contains(a.Stderr, "already completed"):
		a.Outcome = AlreadyDone
	default:
		return a, fmt.Errorf("run %d (signal %q after %s, landed %v) exited with code %d\n--- stdout:\n%s--- stderr:\n%s",
			n, sig, delay, a.Landed, a.ExitCode, a.Stdout, a.Stderr)
	}
	return a, nil
}

// inspect reads the store after an interrupted run: the file must pass
// bbolt's check, and the execution the run made (if it got that far)
// tells which exec steps were running.
func (r *Round) inspect(ctx context.Context, a *Attempt) error {
	if fi, err := os.Stat(r.Store); errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil // killed before it created the store, or as it did
	}
	if err := CheckFile(r.Store); err != nil {
		return fmt.Errorf("after run %d (%s after %s): %w", a.N, a.Signal, a.Delay, err)
	}
	st, err := bolt.Open(r.Store, nil)
	if err != nil {
		return fmt.Errorf("after run %d: %w", a.N, err)
	}
	defer st.Close()
	e, err := r.newExecution(ctx, st, a)
	if err != nil || e == nil {
		return err
	}
	a.Execution, a.Status, a.ResumedFrom = e.ID, e.Status, e.ResumedFrom
	if e.ResumedFrom != 0 {
		r.Resumes++
	}
	switch {
	case a.Outcome == Stopped && e.Status != flow.Stopped:
		return fmt.Errorf("run %d exited as stopped, but execution %d is %s", a.N, e.ID, e.Status)
	case a.Outcome == Killed && !e.Live() && e.Status != flow.Completed:
		return fmt.Errorf("run %d was killed, but execution %d is %s: %s", a.N, e.ID, e.Status, e.Error)
	}
	recs, err := st.Steps(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("after run %d: steps of execution %d: %w", a.N, e.ID, err)
	}
	for _, s := range recs {
		if s.Type != "exec" || s.Status == flow.Completed || s.Status == flow.Skipped {
			continue
		}
		a.InFlight = append(a.InFlight, s.Path)
		if a.Outcome != Killed {
			// A graceful stop lets running steps finish.
			return fmt.Errorf("run %d stopped, but execution %d left exec step %s %s (%s: %s)", a.N, e.ID, s.Path, s.Status, s.ErrorKind, s.Error)
		}
		r.Allowed[s.Path]++
	}
	return nil
}

// newExecution returns the execution run a made: the one newer than those
// of earlier runs, or nil when the run was killed before it made one.
func (r *Round) newExecution(ctx context.Context, st store.Store, a *Attempt) (*store.Execution, error) {
	execs, err := st.History(ctx, store.Filter{})
	if err != nil {
		return nil, fmt.Errorf("after run %d: history: %w", a.N, err)
	}
	var last int64
	for _, p := range r.Attempts {
		if p != a && p.Execution > last {
			last = p.Execution
		}
	}
	var fresh []*store.Execution
	for _, e := range execs {
		if e.ID > last {
			fresh = append(fresh, e)
		}
	}
	switch len(fresh) {
	case 0:
		return nil, nil
	case 1:
		return fresh[0], nil
	}
	return nil, fmt.Errorf("after run %d: %d new executions, want at most one", a.N, len(fresh))
}

// finish checks a completed round: the store's record of it, its outputs
// and the effect file.
func (r *Round) finish(ctx context.Context, a *Attempt, p FlowParams) error {
	if a.Outcome == Completed {
		var res struct {
			Status  flow.Status    `json:"status"`
			Outputs map[string]any `json:"outputs"`
		}
		if err := json.Unmarshal([]byte(a.Stdout), &res); err != nil {
			return fmt.Errorf("run %d: output: %w\n%s", a.N, err, a.Stdout)
		}
		if res.Status != flow.Completed {
			return fmt.Errorf("run %d exited 0 with status %s", a.N, res.Status)
		}
		r.Outputs = res.Outputs
	}
	if err := CheckFile(r.Store); err != nil {
		return fmt.Errorf("at the end: %w", err)
	}
	st, err := bolt.Open(r.Store, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	execs, err := st.History(ctx, store.Filter{})
	if err != nil {
		return err
	}
	if len(execs) == 0 {
		return errors.New("no execution in the store")
	}
	final := execs[0]
	if final.Status != flow.Completed {
		return fmt.Errorf("the last execution, %d, is %s: %s", final.ID, final.Status, final.Error)
	}
	r.Final = final
	if a.Outcome == Completed {
		a.Execution, a.Status, a.ResumedFrom = final.ID, final.Status, final.ResumedFrom
		if final.ResumedFrom != 0 {
			r.Resumes++
		}
	}
	for _, e := range execs {
		if e.InstanceID != final.InstanceID {
			return fmt.Errorf("execution %d belongs to instance %d, execution %d to %d: the round started over", e.ID, e.InstanceID, final.ID, final.InstanceID)
		}
	}
	expected := ExpectedPaths(p)
	states, err := st.States(ctx, final.InstanceID)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, s := range states {
		if s.Status == flow.Completed {
			done[s.Path] = true
		}
	}
	for _, path := range expected {
		if !done[path] {
			return fmt.Errorf("the completed instance has no COMPLETED record of %s", path)
		}
	}
	r.Effects, err = ReadEffects(r.Out)
	if err != nil {
		return err
	}
	r.Verdict = Check(expected, r.Effects, r.Allowed)
	return nil
}

// FinalOutputs decodes the outputs the store kept with the completed
// execution.
func (r *Round) FinalOutputs() (any, error) {
	if r.Final == nil {
		return nil, errors.New("no completed execution")
	}
	var v any
	if err := json.Unmarshal(r.Final.Outputs, &v); err != nil {
		return nil, fmt.Errorf("outputs of execution %d: %w", r.Final.ID, err)
	}
	return v, nil
}

// SameOutputs compares the outputs of two completed rounds: as the store
// kept them (with their types), and as printed when both were printed.
func SameOutputs(got, want *Round) error {
	g, err := got.FinalOutputs()
	if err != nil {
		return err
	}
	w, err := want.FinalOutputs()
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Errorf("stored outputs %s, want %s", got.Final.Outputs, want.Final.Outputs)
	}
	if got.Outputs != nil && want.Outputs != nil && !reflect.DeepEqual(got.Outputs, want.Outputs) {
		return fmt.Errorf("printed outputs %v, want %v", got.Outputs, want.Outputs)
	}
	return nil
}

// Describe tells what happened in the round, one line per run.
func (r *Round) Describe(w io.Writer) {
	fmt.Fprintf(w, "round in %s (seed %d): %d kills, %d stops, %d resumes\n", r.Dir, r.Seed, r.Kills, r.Stops, r.Resumes)
	for _, a := range r.Attempts {
		sig := "no signal"
		if a.Signal != None {
			sig = fmt.Sprintf("%s after %s (landed %v)", a.Signal, a.Delay.Round(time.Millisecond), a.Landed)
		}
		fmt.Fprintf(w, "  run %d: %s, %s in %s; execution %d %s (resumed from %d); in flight %v\n",
			a.N, sig, a.Outcome, a.Elapsed.Round(time.Millisecond), a.Execution, a.Status, a.ResumedFrom, a.InFlight)
	}
}

// ReadEffects counts the lines of an effect file (no file: none).
func ReadEffects(path string) (map[string]int, error) {
	counts := map[string]int{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return counts, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			counts[line]++
		}
	}
	return counts, sc.Err()
}

// Verdict compares the effects with the expected paths.
type Verdict struct {
	Checked int
	// Missing paths never appeared; Unexpected lines are no expected path.
	Missing, Unexpected []string
	// AllowedDup appeared more than once, each extra time covered by a
	// killed execution that had the step running; Unallowed appeared more
	// often than that.
	AllowedDup, Unallowed []string
	// Counts of the paths in AllowedDup and Unallowed, and their allowances.
	Counts, Allowances map[string]int
}

// Check compares effect counts with the expected paths and the allowed
// extra appearances per path.
func Check(expected []string, counts, allowed map[string]int) Verdict {
	v := Verdict{Checked: len(expected), Counts: map[string]int{}, Allowances: map[string]int{}}
	want := map[string]bool{}
	for _, p := range expected {
		want[p] = true
		n := counts[p]
		switch {
		case n == 0:
			v.Missing = append(v.Missing, p)
		case n == 1:
		case n <= 1+allowed[p]:
			v.AllowedDup = append(v.AllowedDup, p)
		default:
			v.Unallowed = append(v.Unallowed, p)
		}
		if n > 1 {
			v.Counts[p], v.Allowances[p] = n, allowed[p]
		}
	}
	for p := range counts {
		if !want[p] {
			v.Unexpected = append(v.Unexpected, p)
		}
	}
	sort.Strings(v.Unexpected)
	return v
}

// OK reports whether nothing is missing, unexpected or duplicated beyond
// what kills allow.
func (v Verdict) OK() bool {
	return len(v.Missing) == 0 && len(v.Unexpected) == 0 && len(v.Unallowed) == 0
}

// Duplicated counts the paths that appeared more than once.
func (v Verdict) Duplicated() int { return len(v.AllowedDup) + len(v.Unallowed) }

func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d paths checked, %d missing, %d duplicated (%d allowed, %d not allowed), %d unexpected",
		v.Checked, len(v.Missing), v.Duplicated(), len(v.AllowedDup), len(v.Unallowed), len(v.Unexpected))
	for _, p := range v.Missing {
		fmt.Fprintf(&b, "\n  missing: %s", p)
	}
	for _, p := range v.Unallowed {
		fmt.Fprintf(&b, "\n  duplicated: %s appears %d times, killed while running %d times", p, v.Counts[p], v.Allowances[p])
	}
	for _, p := range v.Unexpected {
		fmt.Fprintf(&b, "\n  unexpected: %s", p)
	}
	return b.String()
}

// CheckFile opens a bbolt file read-only and runs bbolt's consistency
// check over it.
func CheckFile(path string) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("bbolt check of %s: %w", path, err)
	}
	defer db.Close()
	var errs []error
	err = db.View(func(tx *bbolt.Tx) error {
		for e := range tx.Check() {
			errs = append(errs, e)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("bbolt check of %s: %w", path, errors.Join(errs...))
	}
	return nil
}

// newRand returns the seeded generator of a round's delays.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// randomDelay picks when to interrupt a run: mostly anywhere in span, and
// now and then very early, while the process starts, opens the store and
// takes the execution over.
func randomDelay(rng *rand.Rand, span time.Duration) time.Duration {
	if rng.IntN(8) == 0 {
		return time.Duration(rng.Int64N(int64(40 * time.Millisecond)))
	}
	return time.Duration(rng.Int64N(int64(span)))
}
