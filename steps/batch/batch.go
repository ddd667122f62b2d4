// Package batch is Flowbatch's chunk engine, after NopBatch rather than
// Spring Batch: a Loader reads up to a chunk of items at a time, a
// Processor turns each item into zero, one or many outputs (flatMap), and a
// Consumer takes a whole chunk of outputs. A failed chunk is retried whole,
// then item by item to isolate the bad items, which a skip policy either
// skips (and logs) or lets fail the run. Several workers may share one
// loader; with a partition key, items with the same key are processed in
// input order. After every committed chunk a checkpoint records how far the
// input is done, so that a resumed run re-reads from the watermark and skips
// what was committed.
//
// It is a plain Go library: Run needs no HCL and no flow. The batch step
// of the flow language (see step.go) is built on it.
package batch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowbatch/flow/steps/batch/record"
)

// Loader reads items. An empty result means the input is done.
type Loader[T any] interface {
	Load(c *Chunk, max int) ([]T, error)
}

// Processor turns one item into zero, one or many outputs by calling emit.
type Processor[T, R any] interface {
	Process(c *Chunk, item T, emit func(R)) error
}

// Consumer takes the outputs of a chunk.
type Consumer[R any] interface {
	Consume(c *Chunk, items []R) error
}

// Seeker is implemented by loaders that can tell where they are and go
// back there: what makes a run resumable. Position returns the position of
// the next item Load would return.
type Seeker interface {
	Position() ([]byte, error)
	Seek(pos []byte) error
}

// ReadAhead is implemented by loaders that may load on a goroutine of
// their own, ahead of the workers, when ReadAhead returns true: their Load
// uses nothing of the chunk it is given but ReadFailed and Context (not
// its transaction, worker or values). The engine then loads the next
// chunks while the workers process theirs. Without a partition key only.
type ReadAhead interface {
	ReadAhead() bool
}

// Setup is implemented by components that need to prepare before the run
// and register callbacks on the task (OnTaskEnd, OnChunkEnd...), the way
// NopBatch providers do instead of listener interfaces.
type Setup interface {
	Setup(t *Task) error
}

// LoaderFunc, ProcessorFunc and ConsumerFunc adapt functions.
type LoaderFunc[T any] func(c *Chunk, max int) ([]T, error)

// Load calls f.
func (f LoaderFunc[T]) Load(c *Chunk, max int) ([]T, error) { return f(c, max) }

// ProcessorFunc adapts a function to Processor.
type ProcessorFunc[T, R any] func(c *Chunk, item T, emit func(R)) error

// Process calls f.
func (f ProcessorFunc[T, R]) Process(c *Chunk, item T, emit func(R)) error { return f(c, item, emit) }

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc[R any] func(c *Chunk, items []R) error

// Consume calls f.
func (f ConsumerFunc[R]) Consume(c *Chunk, items []R) error { return f(c, items) }

// Stage says where an item failed.
type Stage string

// Stages.
const (
	StageRead    Stage = "read"
	StageProcess Stage = "process"
	StageWrite   Stage = "write"
)

// Counters are the step's statistics, as in Spring Batch.
type Counters struct {
	Read        int64 `json:"read"`
	Write       int64 `json:"write"`
	Filter      int64 `json:"filter"`
	Commit      int64 `json:"commit"`
	Rollback    int64 `json:"rollback"`
	ReadSkip    int64 `json:"read_skip"`
	ProcessSkip int64 `json:"process_skip"`
	WriteSkip   int64 `json:"write_skip"`
}

func (c *Counters) add(d Counters) {
	c.Read += d.Read
	c.Write += d.Write
	c.Filter += d.Filter
	c.Commit += d.Commit
	c.Rollback += d.Rollback
	c.ReadSkip += d.ReadSkip
	c.ProcessSkip += d.ProcessSkip
	c.WriteSkip += d.WriteSkip
}

// Skips is the number of skipped items of every stage.
func (c Counters) Skips() int64 { return c.ReadSkip + c.ProcessSkip + c.WriteSkip }

// Map returns the counters by their output names (read_count, ...).
func (c Counters) Map() map[string]int64 {
	return map[string]int64{
		"read_count": c.Read, "write_count": c.Write, "filter_count": c.Filter,
		"commit_count": c.Commit, "rollback_count": c.Rollback,
		"read_skip_count": c.ReadSkip, "process_skip_count": c.ProcessSkip, "write_skip_count": c.WriteSkip,
		"skip_count": c.Skips(),
	}
}

// Skipped describes an item the skip policy let go.
type Skipped struct {
	Stage Stage
	// Seq is the item's number in the input, from 0 (-1 when unknown, as
	// for a record a reader could not read).
	Seq  int64
	Item any
	// Where is the item's position in its input (file:line), when known.
	Where string
	Err   error
}

// SkipPolicy decides what happens to an item that fails alone.
type SkipPolicy struct {
	// Limit is how many items may be skipped in all; 0 skips none.
	Limit int64
	// On lists the stages whose failures may be skipped; empty means all.
	On []Stage
	// Log receives every skipped item (for the JSONL skip log).
	Log func(Skipped) error
}

func (p SkipPolicy) covers(s Stage) bool {
	if len(p.On) == 0 {
		return true
	}
	for _, o := range p.On {
		if o == s {
			return true
		}
	}
	return false
}

// RetryPolicy says how often a failed chunk is tried again as a whole.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; 0 or 1: no retry.
	MaxAttempts int
	// Backoff returns the wait before the given attempt (2, 3, ...).
	Backoff func(attempt int) time.Duration
	// Retryable says whether an error is worth retrying; nil: all are.
	Retryable func(error) bool
}

// Options configure Run.
type Options[T any] struct {
	ChunkSize   int // default 1000
	Concurrency int // default 1
	Retry       RetryPolicy
	Skip        SkipPolicy
	// PartitionBy maps an item to its key: items with the same key are
	// processed in input order, by one worker at a time.
	PartitionBy func(T) (string, error)
	// Resume continues from a checkpoint of an earlier run.
	Resume *Checkpoint
	// OnCommit is called after every committed chunk with the checkpoint
	// as of then; calls are serialized and in commit order. A slow
	// OnCommit delays the next commit, not the processing of chunks.
	OnCommit func(Checkpoint) error
	// CheckpointLag is how many committed chunks may wait for OnCommit
	// while the workers go on with the next ones. 0 calls OnCommit for
	// every chunk before its worker takes another. With a lag, OnCommit
	// runs on a goroutine of its own, overlapping the processing of the
	// next chunks, once half the lag has piled up (and at the end), with
	// the newest checkpoint only: checkpoints are cumulative, and a save
	// costs about the same whatever it covers. A kill then loses up to
	// CheckpointLag more chunks of work, which a resume does again.
	CheckpointLag int
	// Stop, when closed, ends the run at the next chunk boundary with
	// ErrStopped.
	Stop <-chan struct{}
	// Progress, when set, is called after each commit with the counters.
	Progress func(Counters)
	// Tx opens a transaction around each chunk (or each consume, by Scope).
	Tx    TxBeginner
	Scope TxScope
}

// DefaultCheckpointLag is the batch step's checkpoint_lag when the flow
// does not set one.
const DefaultCheckpointLag = 8

// ErrStopped ends a run stopped at a chunk boundary.
var ErrStopped = errors.New("batch stopped")

// TxScope says what a transaction spans.
type TxScope string

// Transaction scopes.
const (
	ScopeChunk   TxScope = "chunk"   // process and consume of a chunk
	ScopeConsume TxScope = "consume" // only the consume
	ScopeNone    TxScope = "none"
)

// Tx is a transaction a TxBeginner opened.
type Tx interface {
	Commit() error
	Rollback() error
}

// TxBeginner opens transactions; the chunk carries the open one (Chunk.Tx).
type TxBeginner interface {
	Begin(ctx context.Context) (Tx, error)
}

// Task is one run of the engine, shared by its workers.
type Task struct {
	Context     context.Context
	ChunkSize   int
	Concurrency int

	mu         sync.Mutex
	onTaskEnd  []func(error)
	onChunkBeg []func(*Chunk)
	onChunkEnd []func(*Chunk, error)
	onCommit   []func(*Chunk) error
	values     sync.Map
	writers    map[string][]byte // guarded by mu
	resumed    map[string][]byte
}

// ResumeState returns the state a writer of that name kept in the
// checkpoint being resumed from (nil for a fresh run).
func (t *Task) ResumeState(name string) []byte { return t.resumed[name] }

// SetWriterState keeps a writer's state (such as its committed byte
// offset) for the next checkpoint. Call it from an OnCommit callback.
func (t *Task) SetWriterState(name string, state []byte) {
	t.mu.Lock()
	t.writers[name] = state
	t.mu.Unlock()
}

func (t *Task) writerStates() map[string][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.writers) == 0 {
		return nil
	}
	out := make(map[string][]byte, len(t.writers))
	for k, v := range t.writers {
		out[k] = v
	}
	return out
}

// OnTaskEnd registers a callback run once when the run ends.
func (t *Task) OnTaskEnd(f func(err error)) {
	t.mu.Lock()
	t.onTaskEnd = append(t.onTaskEnd, f)
	t.mu.Unlock()
}

// OnChunkBegin registers a callback run before a worker takes its next
// chunk (which a loader that reads ahead may have loaded already).
func (t *Task) OnChunkBegin(f func(c *Chunk)) {
	t.mu.Lock()
	t.onChunkBeg = append(t.onChunkBeg, f)
	t.mu.Unlock()
}

// OnChunkEnd registers a callback run after each chunk attempt, with its
// error (nil when it committed).
func (t *Task) OnChunkEnd(f func(c *Chunk, err error)) {
	t.mu.Lock()
	t.onChunkEnd = append(t.onChunkEnd, f)
	t.mu.Unlock()
}

// OnCommit registers a callback run when a chunk's outputs are accepted,
// one chunk at a time in commit order: where file writers append what
// they encoded. Callbacks run in the order they were registered. An error
// fails the chunk.
func (t *Task) OnCommit(f func(c *Chunk) error) {
	t.mu.Lock()
	t.onCommit = append(t.onCommit, f)
	t.mu.Unlock()
}

// Value and SetValue share state between components of one task.
func (t *Task) Value(key any) (any, bool) { return t.values.Load(key) }

// SetValue stores a value under key.
func (t *Task) SetValue(key, v any) { t.values.Store(key, v) }

// Chunk is the context of one chunk: what the components see.
type Chunk struct {
	Task *Task
	// Seq is the chunk's number, from 0, in the order chunks were formed.
	Seq int64
	// Worker is the index of the worker running it, from 0.
	Worker  int
	Attempt int
	// Tx is the open transaction, if the run has a TxBeginner.
	Tx Tx
	// first item number of each item, for skip logs and errors
	seqs    []int64
	current int // index of the item being processed, -1 when none
	// Values holds per-chunk state for components (such as encoded bytes
	// a writer keeps until the chunk commits), keyed by component.
	Values map[any]any

	readSkips int64
	skipErr   error
	run       *runner
	alloc     *record.Alloc // the worker's
}

// Alloc returns the worker's record allocator: processors that make new
// records make them with c.Alloc().New(schema), in blocks, rather than one
// allocation per record and its values. It is the worker's own: use it
// only from the Process call.
func (c *Chunk) Alloc() *record.Alloc {
	if c.alloc == nil {
		c.alloc = &record.Alloc{}
	}
	return c.alloc
}

// Context returns the run's context.
func (c *Chunk) Context() context.Context { return c.Task.Context }

// ItemSeq returns the input number of the item being processed, or -1.
func (c *Chunk) ItemSeq() int64 {
	if c.current < 0 || c.current >= len(c.seqs) {
		return -1
	}
	return c.seqs[c.current]
}

// ReadFailed lets a loader report an input record it could not read. It
// returns nil when the skip policy skips it (the loader carries on), or
// the error that fails the run.
func (c *Chunk) ReadFailed(where string, raw any, err error) error {
	sk := Skipped{Stage: StageRead, Seq: -1, Item: raw, Where: where, Err: err}
	if serr := c.run.skip(sk); serr != nil {
		return serr
	}
	c.readSkips++
	return nil
}

// Counters returns the run's counters so far (committed chunks).
func (c *Chunk) Counters() Counters { return c.run.counters() }

// ItemSeqs returns the input numbers of the chunk's items, in order (the
// numbers a checkpoint counts in): what a writer that marks the chunks it
// committed in its own store needs to recognise them when a resumed run
// processes them again. The slice must not be changed.
func (c *Chunk) ItemSeqs() []int64 { return c.seqs }

// ItemError is an item's failure, with where it happened.
type ItemError struct {
	Stage Stage
	Seq   int64
	Where string
	Err   error
}

func (e *ItemError) Error() string {
	w := fmt.Sprintf("item %d", e.Seq+1)
	if e.Where != "" {
		w = e.Where
	}
	return fmt.Sprintf("%s failed at %s: %v", e.Stage, w, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// Locator is implemented by items that know where they come from
// (file:line), for errors and skip logs.
type Locator interface{ Where() string }

func where(item any) string {
	if l, ok := item.(Locator); ok {
		return l.Where()
	}
	return ""
}

// Run runs the chunk engine to the end of the input, or to the first
// failure the policies do not absorb. It returns the counters of what was
// committed.
func Run[T, R any](ctx context.Context, l Loader[T], p Processor[T, R], c Consumer[R], opts Options[T]) (Counters, error) {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 1000
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.Scope == "" {
		opts.Scope = ScopeChunk
	}
	if opts.Concurrency == 1 {
		// One worker keeps input order, which keeps every key's order too;
		// the dispatcher would only make the output order depend on timing.
		opts.PartitionBy = nil
	}
	if opts.Resume != nil {
		// The caller may keep updating its checkpoint from OnCommit.
		cp := *opts.Resume
		cp.Done = append([]Range(nil), cp.Done...)
		cp.Writers = maps.Clone(cp.Writers)
		opts.Resume = &cp
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	task := &Task{Context: ctx, ChunkSize: opts.ChunkSize, Concurrency: opts.Concurrency, writers: map[string][]byte{}}
	if opts.Resume != nil {
		task.resumed = opts.Resume.Writers
	}
	r := &runner{task: task, skipPolicy: opts.Skip, onCommit: opts.OnCommit, progress: opts.Progress, cancel: cancel}
	for _, comp := range []any{l, p, c} {
		if s, ok := comp.(Setup); ok {
			if err := s.Setup(task); err != nil {
				return Counters{}, err
			}
		}
	}
	var err error
	defer func() {
		task.mu.Lock()
		ends := task.onTaskEnd
		task.mu.Unlock()
		for _, f := range ends {
			f(err)
		}
	}()
	src, serr := newSource(ctx, l, opts, r)
	if serr != nil {
		err = serr
		return Counters{}, err
	}
	if opts.Resume != nil {
		r.cnt = opts.Resume.Counters
		// The skip limit is for the whole run of the step, not for each
		// execution of it: a resumed run may skip only what is left.
		r.skipped = opts.Resume.Counters.Skips()
	}
	if opts.OnCommit != nil && opts.CheckpointLag > 0 {
		r.saver = newCommitter(opts.OnCommit, opts.CheckpointLag)
	}
	eng := &engine[T, R]{r: r, src: src, p: p, c: c, opts: opts}
	err = eng.run(ctx)
	if r.saver != nil {
		// What committed before the end (or the failure) is saved: its
		// outputs are written and its checkpoint is true.
		if serr := r.saver.close(); err == nil && serr != nil {
			err = fmt.Errorf("checkpoint: %w", serr)
		}
	}
	return r.counters(), err
}

// runner holds what the workers share, whatever the item types.
type runner struct {
	task       *Task
	skipPolicy SkipPolicy
	onCommit   func(Checkpoint) error
	saver      *committer // nil: onCommit is called inline
	progress   func(Counters)
	cancel     context.CancelFunc

	mu        sync.Mutex
	cnt       Counters
	skipped   int64
	track     tracker
	nextBatch loadBatch

	commitMu sync.Mutex
	chunkSeq atomic.Int64
	firstErr error
	errOnce  sync.Once
	stopped  atomic.Bool
}

func (r *runner) counters() Counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cnt
}

// skip applies the skip policy to an item; nil means skipped.
func (r *runner) skip(s Skipped) error {
	r.mu.Lock()
	ok := r.skipPolicy.covers(s.Stage) && r.skipped < r.skipPolicy.Limit
	if ok {
		r.skipped++
	}
	r.mu.Unlock()
	ie := &ItemError{Stage: s.Stage, Seq: s.Seq, Where: s.Where, Err: s.Err}
	if !ok {
		if r.skipPolicy.Limit > 0 && r.skipPolicy.covers(s.Stage) {
			return fmt.Errorf("skip limit %d reached: %w", r.skipPolicy.Limit, ie)
		}
		return ie
	}
	if r.skipPolicy.Log != nil {
		if err := r.skipPolicy.Log(s); err != nil {
			return fmt.Errorf("skip log: %w", err)
		}
	}
	return nil
}

func (r *runner) fail(err error) {
	r.errOnce.Do(func() {
		r.firstErr = err
		r.cancel()
	})
}
