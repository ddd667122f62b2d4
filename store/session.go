package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/flowbatch/flow/flow"
)

// Options tune a durable run.
type Options struct {
	// Rerun starts a new instance even when one with the same identifying
	// params completed (or failed).
	Rerun bool
	// Lease is how long the execution stays owned without a heartbeat
	// (default 30s); heartbeats come every third of it.
	Lease time.Duration
	// FlushInterval is the longest the state of a pure step (set, log, a
	// loop's progress) waits before it is committed (default 200ms).
	// Steps with outside effects are committed before they start and when
	// they end, whatever this says.
	FlushInterval time.Duration
}

func (o *Options) defaults() {
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
}

// Session is one execution run durably: it is the flow.Journal of the run,
// renews the owner's lease, relays stop requests, and records how the run
// ended.
type Session struct {
	st   Store
	opts Options

	Instance  *Instance
	Execution *Execution
	// Previous is the execution this one resumes, or nil.
	Previous *Execution

	mu       sync.Mutex
	restored map[string]flow.StepState
	pending  map[string]StepRecord
	order    []string // pending paths in the order first recorded
	written  map[string]bool
	err      error // the first commit error: the run cannot go on durably

	flushMu sync.Mutex // one commit at a time, in order
	stopCh  chan struct{}
	wg      sync.WaitGroup
	onStop  func()
	onLost  func()
}

// Begin starts (or resumes) the execution of f with params: a new instance
// for new identifying params, a resume of the instance's failed or stopped
// execution, ErrCompleted for a completed one (unless opts.Rerun), ErrOwned
// while a live process runs it.
func Begin(ctx context.Context, st Store, f *flow.Flow, params map[string]cty.Value, opts Options) (*Session, error) {
	opts.defaults()
	bound, err := f.BindParams(params)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	file := f.File
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	begun, err := st.Begin(ctx, BeginRequest{
		Flow: f.Name, Key: InstanceKey(f, bound), File: file, Params: DisplayParams(f, bound),
		Owner: NewOwner(now, opts.Lease), Rerun: opts.Rerun, Alive: Alive, Now: now,
	})
	if err != nil {
		return nil, err
	}
	return open(ctx, st, begun, opts)
}

// Resume starts a new execution that carries on from execution id.
func Resume(ctx context.Context, st Store, id int64, opts Options) (*Session, error) {
	opts.defaults()
	now := time.Now()
	begun, err := st.Resume(ctx, id, NewOwner(now, opts.Lease), Alive, now)
	if err != nil {
		return nil, err
	}
	return open(ctx, st, begun, opts)
}

func open(ctx context.Context, st Store, b *Begun, opts Options) (*Session, error) {
	s := &Session{st: st, opts: opts, Instance: b.Instance, Execution: b.Execution, Previous: b.Previous,
		restored: map[string]flow.StepState{}, pending: map[string]StepRecord{}, written: map[string]bool{},
		stopCh: make(chan struct{})}
	if b.Previous != nil {
		recs, err := st.States(ctx, b.Instance.ID)
		if err != nil {
			return nil, s.fail(ctx, fmt.Errorf("read the state of instance %d: %w", b.Instance.ID, err))
		}
		for _, r := range recs {
			if r.Status == flow.Unknown || r.Status == "" {
				continue // forgotten by a retry
			}
			state, err := decodeState(r)
			if err != nil {
				return nil, s.fail(ctx, fmt.Errorf("state of step %s: %w", r.Path, err))
			}
			s.restored[r.Path] = state
		}
	}
	return s, nil
}

// fail ends an execution that could not start.
func (s *Session) fail(ctx context.Context, err error) error {
	e := *s.Execution
	e.Status, e.Error, e.Ended, e.Updated = flow.Failed, err.Error(), time.Now(), time.Now()
	if cerr := s.st.Commit(ctx, e.ID, &e, nil); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// ExecutionID is the execution's id as the engine and the CLI show it.
func (s *Session) ExecutionID() string { return strconv.FormatInt(s.Execution.ID, 10) }

// Restored counts the steps an earlier execution completed, which this one
// will not run again.
func (s *Session) Restored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.restored {
		if (st.Status == flow.Completed || st.Status == flow.Skipped) && st.Type != flow.VarsType {
			n++
		}
	}
	return n
}

// Start runs f under this session: the engine gets the session as its
// journal and the execution id; a stop request found by a heartbeat stops
// the run at its next safe point; a lost lease aborts it. Call Wait next.
func (s *Session) Start(ctx context.Context, eng *flow.Engine, f *flow.Flow, params map[string]cty.Value) (*flow.Run, error) {
	ctx, abort := context.WithCancel(ctx)
	r, err := eng.Start(ctx, f, flow.RunOptions{Params: params, ExecutionID: s.ExecutionID(), Journal: s})
	if err != nil {
		abort()
		return nil, errors.Join(err, s.fail(context.WithoutCancel(ctx), err))
	}
	s.onStop = r.Stop
	s.onLost = abort
	s.wg.Add(2)
	go s.heartbeat(ctx)
	go s.flusher()
	go func() { <-r.Done(); abort() }()
	return r, nil
}

// Wait waits for the run and records how it ended. The error is about the
// record, not the run: the run's own failure is in the result.
func (s *Session) Wait(ctx context.Context, r *flow.Run, f *flow.Flow) (*flow.Result, error) {
	res := r.Wait()
	close(s.stopCh)
	s.wg.Wait()
	return res, s.finish(context.WithoutCancel(ctx), f, res)
}

func (s *Session) finish(ctx context.Context, f *flow.Flow, res *flow.Result) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	e := *s.Execution
	e.Status, e.ExitStatus = res.Status, string(res.Status)
	e.Ended, e.Updated = res.Ended, time.Now()
	if res.Err != nil {
		e.FailedStep, e.Error = flow.StepOf(res.Err), flow.MessageOf(res.Err)
	}
	if len(res.Outputs) > 0 {
		shown := map[string]cty.Value{}
		for k, v := range res.Outputs {
			shown[k] = v
		}
		for _, o := range f.Root.Outputs {
			if o.Sensitive {
				shown[o.Name] = cty.StringVal("(sensitive)")
			}
		}
		b, err := ctyjson.Marshal(cty.ObjectVal(shown), cty.DynamicPseudoType)
		if err == nil {
			e.Outputs = b
		}
	}
	if err := s.st.Commit(ctx, e.ID, &e, nil); err != nil {
		return fmt.Errorf("record the end of execution %d: %w", e.ID, err)
	}
	s.Execution = &e
	return nil
}

func (s *Session) heartbeat(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			stop, err := s.st.Heartbeat(ctx, s.Execution.ID, s.Execution.Owner.Token, time.Now().Add(s.opts.Lease))
			switch {
			case errors.Is(err, ErrLeaseLost):
				s.setErr(err)
				s.onLost()
				return
			case err != nil:
				continue // a passing store error; the lease has slack
			case stop:
				s.onStop()
			}
		}
	}
}

func (s *Session) flusher() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-t.C:
			_ = s.flush(context.Background())
		}
	}
}

func (s *Session) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// Restore implements flow.Journal.
func (s *Session) Restore(path string) (flow.StepState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.restored[path]
	return st, ok
}

// Record implements flow.Journal.
func (s *Session) Record(st flow.StepState, sync bool) error {
	rec, err := encodeState(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if _, ok := s.pending[rec.Path]; !ok {
		s.order = append(s.order, rec.Path)
	}
	s.pending[rec.Path] = rec
	s.written[rec.Path] = true
	s.mu.Unlock()
	if sync {
		return s.flush(context.Background())
	}
	return nil
}

// Forget implements flow.Journal: the states under path are dropped here
// and overwritten in the store, so that neither this run nor a later resume
// restores what a failed attempt completed.
func (s *Session) Forget(path string) error {
	s.mu.Lock()
	var gone []string
	for p := range s.restored {
		if flow.Under(p, path) {
			delete(s.restored, p)
			gone = append(gone, p)
		}
	}
	for p := range s.written {
		if flow.Under(p, path) {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		if _, ok := s.pending[p]; !ok {
			s.order = append(s.order, p)
		}
		s.pending[p] = StepRecord{Path: p, Status: flow.Unknown}
	}
	s.mu.Unlock()
	return nil
}

// flush commits the pending records in one transaction, with the
// execution record (which also proves the lease is still ours).
func (s *Session) flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	recs := make([]StepRecord, 0, len(s.order))
	for _, p := range s.order {
		recs = append(recs, s.pending[p])
	}
	s.pending, s.order = map[string]StepRecord{}, nil
	e := *s.Execution
	s.mu.Unlock()
	e.Updated = time.Now()
	if err := s.st.Commit(ctx, e.ID, &e, recs); err != nil {
		err = fmt.Errorf("commit the state of execution %d: %w", e.ID, err)
		s.setErr(err)
		return err
	}
	return nil
}

// assignment is how a set step's assignment is kept.
type assignment struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

func encodeState(st flow.StepState) (StepRecord, error) {
	rec := StepRecord{Path: st.Path, Type: st.Type, Status: st.Status, Attempt: st.Attempt,
		Started: st.Started, Ended: st.Ended, Progress: st.Progress, Counters: st.Counters,
		ErrorKind: st.ErrorKind, Error: st.Error}
	if st.Outputs != cty.NilVal {
		b, err := flow.MarshalValue(st.Outputs)
		if err != nil {
			return rec, fmt.Errorf("outputs of %s: %w", st.Path, err)
		}
		rec.Outputs = b
	}
	if len(st.Assigned) > 0 {
		as := make([]assignment, len(st.Assigned))
		for i, a := range st.Assigned {
			b, err := flow.MarshalValue(a.Value)
			if err != nil {
				return rec, fmt.Errorf("variable %s assigned by %s: %w", a.Name, st.Path, err)
			}
			as[i] = assignment{Name: a.Name, Value: b}
		}
		b, err := json.Marshal(as)
		if err != nil {
			return rec, err
		}
		rec.Assigned = b
	}
	return rec, nil
}

func decodeState(r StepRecord) (flow.StepState, error) {
	st := flow.StepState{Path: r.Path, Type: r.Type, Status: r.Status, Attempt: r.Attempt,
		Started: r.Started, Ended: r.Ended, Progress: r.Progress, Counters: r.Counters,
		ErrorKind: r.ErrorKind, Error: r.Error}
	if len(r.Outputs) > 0 {
		v, err := flow.UnmarshalValue(r.Outputs)
		if err != nil {
			return st, fmt.Errorf("outputs: %w", err)
		}
		st.Outputs = v
	}
	if len(r.Assigned) > 0 {
		var as []assignment
		if err := json.Unmarshal(r.Assigned, &as); err != nil {
			return st, fmt.Errorf("assignments: %w", err)
		}
		for _, a := range as {
			v, err := flow.UnmarshalValue(a.Value)
			if err != nil {
				return st, fmt.Errorf("variable %s: %w", a.Name, err)
			}
			st.Assigned = append(st.Assigned, flow.Assignment{Name: a.Name, Value: v})
		}
	}
	return st, nil
}

// InstanceKey hashes a flow's name and its identifying params (every param
// unless declared identifying = false): the key of its job instance.
func InstanceKey(f *flow.Flow, params map[string]cty.Value) string {
	h := sha256.New()
	fmt.Fprintf(h, "flow=%s\n", f.Name)
	for _, p := range f.Params {
		if !p.Identifying {
			continue
		}
		v, ok := params[p.Name]
		if !ok {
			continue
		}
		b, err := ctyjson.Marshal(v, cty.DynamicPseudoType)
		if err != nil {
			b = []byte(flow.FormatValue(v))
		}
		fmt.Fprintf(h, "%s=%s\n", p.Name, b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SensitiveMask is what a sensitive param's value is shown as.
const SensitiveMask = "(sensitive)"

// DisplayParams renders param values as `flow exec -p` takes them (a string
// param as it is, others in HCL syntax), with sensitive ones masked. They
// are kept with the execution, and ParseParams reads them back.
func DisplayParams(f *flow.Flow, params map[string]cty.Value) map[string]string {
	out := map[string]string{}
	for _, p := range f.Params {
		v, ok := params[p.Name]
		if !ok {
			continue
		}
		switch {
		case p.Sensitive:
			out[p.Name] = SensitiveMask
		case p.Type == cty.String && !v.IsNull():
			out[p.Name] = v.AsString()
		default:
			out[p.Name] = flow.FormatValue(v)
		}
	}
	return out
}

// ParseParams reads the params kept with an execution back into values for
// f. Sensitive params were not kept: their names are returned in missing,
// for the caller to ask again.
func ParseParams(f *flow.Flow, kept map[string]string) (values map[string]cty.Value, missing []string, err error) {
	values = map[string]cty.Value{}
	for _, p := range f.Params {
		text, ok := kept[p.Name]
		if !ok {
			continue
		}
		if p.Sensitive {
			missing = append(missing, p.Name)
			continue
		}
		v, err := flow.ParseParam(p, text)
		if err != nil {
			return nil, nil, err
		}
		values[p.Name] = v
	}
	return values, missing, nil
}

var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}()

// NewOwner describes this process as the owner of an execution, with a
// lease that ends at now+lease.
func NewOwner(now time.Time, lease time.Duration) Owner {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return Owner{Host: hostname, PID: os.Getpid(), Token: hex.EncodeToString(b[:]), Until: now.Add(lease)}
}

// Alive reports whether an owner still runs: on this host, whether its
// process exists; elsewhere it cannot tell and trusts the lease.
func Alive(o Owner) bool {
	if o.Host != hostname || o.PID <= 0 {
		return true
	}
	if o.PID == os.Getpid() {
		return true
	}
	err := syscall.Kill(o.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
