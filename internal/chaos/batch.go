package chaos

// The batch scenario: a batch step reads a big CSV, runs a Go processor and
// writes a CSV; the binary is killed (SIGKILL) at random moments and run
// again until the execution completes. After every kill the store must pass
// bbolt's check, and what the checkpoint counts as committed must be in the
// output file (the committed byte offset, the write counter); at the end,
// the output is compared with an uninterrupted run's.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
)

// BatchFlowSource is the flow of the batch scenario: the standard transform
// (processor "standard", which the flowx binary registers) from a CSV with
// a decimal amount to a CSV.
var BatchFlowSource = `flow "batch_chaos" {
  param "in" {
    type = string
  }
  param "out" {
    type = string
  }
  param "concurrency" {
    type    = number
    default = 1
  }
  param "partition_by" {
    type    = string
    default = ""
  }
  param "chunk_size" {
    type    = number
    default = 1000
  }
  param "checkpoint_lag" {
    type    = number
    default = ` + strconv.Itoa(batch.DefaultCheckpointLag) + `
  }

  batch "load" {
    chunk_size     = param.chunk_size
    concurrency    = param.concurrency
    partition_by   = param.partition_by
    checkpoint_lag = param.checkpoint_lag

    reader "csv" {
      path   = param.in
      schema = { amount = "decimal" }
    }
    processor "standard" {}
    writer "csv" {
      path = param.out
    }
  }

  output "read" {
    value = step.load.read_count
  }
  output "write" {
    value = step.load.write_count
  }
  output "filter" {
    value = step.load.filter_count
  }
  output "skip" {
    value = step.load.skip_count
  }
  output "commit" {
    value = step.load.commit_count
  }
  output "rollback" {
    value = step.load.rollback_count
  }
}
`

// JSBatchFlowSource is BatchFlowSource with the transform written in
// JavaScript (processor "js"), which the flow binary runs as it is.
var JSBatchFlowSource = strings.Replace(BatchFlowSource, `    processor "standard" {}`,
	"    processor \"js\" {\n      code = <<-JS\n        "+strings.ReplaceAll(gen.JSTransform, "\n", "\n        ")+"\n      JS\n    }", 1)

// BatchStep is the path of the batch step in BatchFlowSource.
const BatchStep = "main/load"

// WriteBatchFlow writes BatchFlowSource to dir/batch.flow.hcl and returns
// its path.
func WriteBatchFlow(dir string) (string, error) {
	p := filepath.Join(dir, "batch.flow.hcl")
	return p, os.WriteFile(p, []byte(BatchFlowSource), 0o644)
}

// WriteJSBatchFlow writes JSBatchFlowSource to dir/batch_js.flow.hcl and
// returns its path.
func WriteJSBatchFlow(dir string) (string, error) {
	p := filepath.Join(dir, "batch_js.flow.hcl")
	return p, os.WriteFile(p, []byte(JSBatchFlowSource), 0o644)
}

// BatchDriver runs the batch scenario against a binary that has processor
// "standard" (internal/flowx), or with JSBatchFlowSource, the flow binary.
type BatchDriver struct {
	Binary   string
	FlowFile string // from WriteBatchFlow
	In       string // the input CSV, absolute
	// Concurrency, PartitionBy, ChunkSize and CheckpointLag are the batch
	// step's (CheckpointLag nil: batch.DefaultCheckpointLag).
	CheckpointLag *int
	Concurrency   int
	PartitionBy   string
	ChunkSize     int
	// Span bounds the random delay before a kill: about the length of an
	// uninterrupted run (Reference sets it when zero).
	Span time.Duration
	// MaxKills is the most kills a round sends (at least 1).
	MaxKills int
	// MaxAttempts bounds the runs of one round; Timeout one run.
	MaxAttempts int
	Timeout     time.Duration
	// AfterKill, when set, checks the committed part of the output after
	// each kill: the bytes up to the offset the checkpoint records, and
	// the checkpoint. cp is nil when no checkpoint was saved yet.
	AfterKill func(committed []byte, cp *batch.Checkpoint) error
}

// BatchRound is one execution of the batch flow from a fresh store to
// COMPLETED.
type BatchRound struct {
	Dir, Store, Out string
	Seed            uint64
	Attempts        []*Attempt
	Kills, Resumes  int
	// Checkpoints counts the kills after which a checkpoint was found.
	Checkpoints int
	// Final is the completed execution; Show what flow show -o json said
	// of it.
	Final *store.Execution
	Show  *BatchShow
}

// BatchShow is the part of flow show -o json the scenario checks.
type BatchShow struct {
	Execution struct {
		ID      string                     `json:"id"`
		Status  flow.Status                `json:"status"`
		Outputs map[string]json.RawMessage `json:"outputs"`
	} `json:"execution"`
	Steps []struct {
		Path     string           `json:"path"`
		Status   flow.Status      `json:"status"`
		Counters map[string]int64 `json:"counters"`
	} `json:"steps"`
}

// Output returns a whole-number output of the execution.
func (s *BatchShow) Output(name string) (int64, error) {
	raw, ok := s.Execution.Outputs[name]
	if !ok {
		return 0, fmt.Errorf("no output %q in flow show", name)
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("output %s = %s: %w", name, raw, err)
	}
	return n, nil
}

// StepCounters returns the counters flow show lists for a step.
func (s *BatchShow) StepCounters(path string) (map[string]int64, flow.Status, bool) {
	for _, st := range s.Steps {
		if st.Path == path {
			return st.Counters, st.Status, true
		}
	}
	return nil, "", false
}

func (d *BatchDriver) defaults() {
	if d.MaxKills < 1 {
		d.MaxKills = 3
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 4*d.MaxKills + 4
	}
	if d.Timeout <= 0 {
		d.Timeout = 5 * time.Minute
	}
	if d.Concurrency < 1 {
		d.Concurrency = 1
	}
	if d.ChunkSize < 1 {
		d.ChunkSize = 1000
	}
}

func (d *BatchDriver) newRound(dir string, seed uint64) *BatchRound {
	return &BatchRound{Dir: dir, Store: filepath.Join(dir, "flow.db"), Out: filepath.Join(dir, "out.csv"), Seed: seed}
}

func (d *BatchDriver) args(r *BatchRound) []string {
	args := []string{"exec", d.FlowFile, "--store", r.Store, "--output", "json",
		"-p", "in=" + d.In, "-p", "out=" + r.Out,
		"-p", "concurrency=" + strconv.Itoa(d.Concurrency),
		"-p", "partition_by=" + d.PartitionBy,
		"-p", "chunk_size=" + strconv.Itoa(d.ChunkSize)}
	if d.CheckpointLag != nil {
		args = append(args, "-p", "checkpoint_lag="+strconv.Itoa(*d.CheckpointLag))
	}
	return args
}

// Lag is the batch step's checkpoint_lag in the driver's runs.
func (d *BatchDriver) Lag() int {
	if d.CheckpointLag != nil {
		return *d.CheckpointLag
	}
	return batch.DefaultCheckpointLag
}

// Reference runs the flow once without interruption in dir. When d.Span
// is zero, it becomes the run's duration.
func (d *BatchDriver) Reference(ctx context.Context, dir string) (*BatchRound, error) {
	d.defaults()
	r := d.newRound(dir, 0)
	a, err := d.attempt(ctx, r, 1, None, 0)
	if a != nil {
		r.Attempts = append(r.Attempts, a)
	}
	if err != nil {
		return r, err
	}
	if a.Outcome != Completed {
		return r, fmt.Errorf("reference run: %s (exit %d)\n%s", a.Outcome, a.ExitCode, a.Stderr)
	}
	if d.Span <= 0 {
		d.Span = a.Elapsed
	}
	return r, d.finish(ctx, r)
}

// Round kills the flow 1 to MaxKills times at random delays drawn from
// seed, then runs it until it completes. Kills that come after the run
// ended by itself do not count: the round may end with fewer.
func (d *BatchDriver) Round(ctx context.Context, dir string, seed uint64) (*BatchRound, error) {
	d.defaults()
	rng := newRand(seed)
	r := d.newRound(dir, seed)
	kills := 1 + rng.IntN(d.MaxKills)
	for n := 1; ; n++ {
		if n > d.MaxAttempts {
			return r, fmt.Errorf("round not completed after %d runs", d.MaxAttempts)
		}
		sig, delay := None, time.Duration(0)
		if kills > 0 {
			sig = Kill
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
			kills--
		}
		switch a.Outcome {
		case Completed:
			return r, d.finish(ctx, r)
		case AlreadyDone:
			if prev := r.Attempts[len(r.Attempts)-2]; prev.Status != flow.Completed {
				return r, fmt.Errorf("run %d: the instance is said to be completed, but run %d left execution %d %s\n%s", n, prev.N, prev.Execution, prev.Status, a.Stderr)
			}
			return r, d.finish(ctx, r)
		case Killed:
			r.Kills++
		}
		if err := d.inspect(ctx, r, a); err != nil {
			return r, fmt.Errorf("after run %d (%s after %s): %w", a.N, a.Signal, a.Delay, err)
		}
	}
}

// attempt runs the binary once, sending sig after delay unless it is None.
func (d *BatchDriver) attempt(ctx context.Context, r *BatchRound, n int, sig Signal, delay time.Duration) (*Attempt, error) {
	return runAttempt(ctx, process{bin: d.Binary, dir: r.Dir, args: d.args(r), timeout: d.Timeout}, n, sig, delay)
}

// inspect checks the store and the committed output after a kill.
func (d *BatchDriver) inspect(ctx context.Context, r *BatchRound, a *Attempt) error {
	if fi, err := os.Stat(r.Store); errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil // killed before it made the store, or as it did
	}
	if err := CheckFile(r.Store); err != nil {
		return err
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
		return nil
	}
	e := execs[0]
	var last int64
	for _, p := range r.Attempts {
		if p != a && p.Execution > last {
			last = p.Execution
		}
	}
	if e.ID > last {
		a.Execution, a.Status, a.ResumedFrom = e.ID, e.Status, e.ResumedFrom
		if e.ResumedFrom != 0 {
			r.Resumes++
		}
		if !e.Live() && e.Status != flow.Completed {
			return fmt.Errorf("execution %d is %s after a kill: %s", e.ID, e.Status, e.Error)
		}
	}
	cp, err := batchCheckpoint(ctx, st, e.InstanceID)
	if err != nil {
		return err
	}
	if d.AfterKill == nil {
		return nil
	}
	out, err := os.ReadFile(r.Out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if cp == nil {
		return d.AfterKill(nil, nil)
	}
	r.Checkpoints++
	off, err := CommittedOffset(cp, "csv")
	if err != nil {
		return err
	}
	if int64(len(out)) < off {
		return fmt.Errorf("the checkpoint counts %d bytes of %s as committed, the file has %d", off, r.Out, len(out))
	}
	return d.AfterKill(out[:off], cp)
}

// batchCheckpoint returns the batch step's last saved checkpoint (nil when
// none).
func batchCheckpoint(ctx context.Context, st store.Store, instance int64) (*batch.Checkpoint, error) {
	states, err := st.States(ctx, instance)
	if err != nil {
		return nil, err
	}
	for _, s := range states {
		if s.Path != BatchStep || len(s.Progress) == 0 {
			continue
		}
		var p struct {
			Checkpoint *batch.Checkpoint `json:"checkpoint"`
		}
		if err := json.Unmarshal(s.Progress, &p); err != nil {
			return nil, fmt.Errorf("progress of %s: %w", BatchStep, err)
		}
		return p.Checkpoint, nil
	}
	return nil, nil
}

// CommittedOffset returns the byte offset a file writer recorded in a
// checkpoint.
func CommittedOffset(cp *batch.Checkpoint, writer string) (int64, error) {
	raw, ok := cp.Writers[writer]
	if !ok {
		return 0, fmt.Errorf("the checkpoint has no state of writer %q (has %v)", writer, keys(cp.Writers))
	}
	var s struct {
		Offset *int64 `json:"offset"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Offset == nil {
		return 0, fmt.Errorf("writer %q state %s: no offset (%v)", writer, raw, err)
	}
	return *s.Offset, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// finish checks the store at the end of a round and reads flow show.
func (d *BatchDriver) finish(ctx context.Context, r *BatchRound) error {
	if err := CheckFile(r.Store); err != nil {
		return fmt.Errorf("at the end: %w", err)
	}
	st, err := bolt.Open(r.Store, nil)
	if err != nil {
		return err
	}
	execs, err := st.History(ctx, store.Filter{})
	st.Close()
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
	for _, e := range execs {
		if e.InstanceID != final.InstanceID {
			return fmt.Errorf("execution %d belongs to instance %d, execution %d to %d: the round started over", e.ID, e.InstanceID, final.ID, final.InstanceID)
		}
	}
	r.Final = final
	if a := r.Attempts[len(r.Attempts)-1]; a.Outcome == Completed {
		a.Execution, a.Status, a.ResumedFrom = final.ID, final.Status, final.ResumedFrom
		if final.ResumedFrom != 0 {
			r.Resumes++
		}
	}
	cmd := exec.CommandContext(ctx, d.Binary, "show", strconv.FormatInt(final.ID, 10), "--store", r.Store, "--output", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("flow show %d: %v\n%s", final.ID, err, stderr.String())
	}
	r.Show = &BatchShow{}
	if err := json.Unmarshal(out, r.Show); err != nil {
		return fmt.Errorf("flow show %d: %w\n%s", final.ID, err, out)
	}
	return nil
}

// Describe tells what happened in the round, one line per run.
func (r *BatchRound) Describe(w io.Writer) {
	fmt.Fprintf(w, "batch round in %s (seed %d): %d kills, %d resumes\n", r.Dir, r.Seed, r.Kills, r.Resumes)
	for _, a := range r.Attempts {
		sig := "no signal"
		if a.Signal != None {
			sig = fmt.Sprintf("%s after %s (landed %v)", a.Signal, a.Delay.Round(time.Millisecond), a.Landed)
		}
		fmt.Fprintf(w, "  run %d: %s, %s in %s; execution %d %s (resumed from %d)\n",
			a.N, sig, a.Outcome, a.Elapsed.Round(time.Millisecond), a.Execution, a.Status, a.ResumedFrom)
	}
}

// SameLines compares two CSV outputs of the batch flow whose rows may be
// in another order: the same header, the same multiset of rows, and for
// every value of the key column (0-based), the rows in the same order. It
// returns how many rows it compared.
func SameLines(got, want []byte, key int) (int, error) {
	g, w := splitLines(got), splitLines(want)
	if len(g) == 0 || len(w) == 0 {
		return 0, fmt.Errorf("empty output (%d lines, want %d)", len(g), len(w))
	}
	if g[0] != w[0] {
		return 0, fmt.Errorf("header %q, want %q", g[0], w[0])
	}
	if len(g) != len(w) {
		return 0, fmt.Errorf("%d rows, want %d", len(g)-1, len(w)-1)
	}
	gk, err := byKey(g[1:], key)
	if err != nil {
		return 0, err
	}
	wk, err := byKey(w[1:], key)
	if err != nil {
		return 0, err
	}
	for k, rows := range wk {
		other := gk[k]
		if len(other) != len(rows) {
			return 0, fmt.Errorf("key %s: %d rows, want %d", k, len(other), len(rows))
		}
		for i := range rows {
			if other[i] != rows[i] {
				return 0, fmt.Errorf("key %s, its row %d: %q, want %q (the key's order is not kept, or a row differs)", k, i+1, other[i], rows[i])
			}
		}
	}
	if len(gk) != len(wk) {
		return 0, fmt.Errorf("%d keys, want %d", len(gk), len(wk))
	}
	return len(g) - 1, nil
}

// SubsetLines checks that the rows of part are rows of whole, each at most
// as often, with the same header: what a committed prefix of a concurrent
// run's output must be. It returns the number of rows of part.
func SubsetLines(part, whole []byte) (int, error) {
	p, w := splitLines(part), splitLines(whole)
	if len(p) == 0 {
		return 0, nil
	}
	if len(w) == 0 || p[0] != w[0] {
		return 0, fmt.Errorf("header %q, want %q", p[0], first(w))
	}
	count := make(map[string]int, len(w))
	for _, l := range w[1:] {
		count[l]++
	}
	for i, l := range p[1:] {
		count[l]--
		if count[l] < 0 {
			return 0, fmt.Errorf("row %d, %q, is not in the reference output or appears too often", i+1, l)
		}
	}
	return len(p) - 1, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// splitLines splits on \n; a partial last line (no \n) is kept as a line
// of its own, so that it shows in comparisons.
func splitLines(b []byte) []string {
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// byKey groups rows by their key column, keeping their order. The rows of
// the batch flow's output have no quoted fields.
func byKey(rows []string, key int) (map[string][]string, error) {
	out := map[string][]string{}
	for i, r := range rows {
		f := strings.Split(r, ",")
		if key >= len(f) {
			return nil, fmt.Errorf("row %d, %q, has no column %d", i+1, r, key)
		}
		out[f[key]] = append(out[f[key]], r)
	}
	return out, nil
}
