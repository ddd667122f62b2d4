// Package memory is an in-memory store.Store: maps behind one mutex,
// nothing written anywhere. It is meant for tests and benchmarks: every
// record is lost when the process ends.
package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// Store is an in-memory job repository. The zero value is not usable; use
// New.
type Store struct {
	mu        sync.Mutex
	closed    bool
	lastInst  int64
	lastExec  int64
	instances map[int64]*store.Instance
	keys      map[instKey]int64 // flow and key → latest instance
	execs     map[int64]*store.Execution
	instExecs map[int64][]int64 // instance → its executions, ascending
	states    map[int64]map[string]store.StepRecord
	steps     map[int64]map[string]store.StepRecord
}

type instKey struct{ flow, key string }

var errClosed = errors.New("memory store: closed")

// New returns an empty store.
func New() *Store {
	return &Store{
		instances: map[int64]*store.Instance{},
		keys:      map[instKey]int64{},
		execs:     map[int64]*store.Execution{},
		instExecs: map[int64][]int64{},
		states:    map[int64]map[string]store.StepRecord{},
		steps:     map[int64]map[string]store.StepRecord{},
	}
}

var _ store.Store = (*Store)(nil)

func (s *Store) lock() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	return nil
}

// Begin implements store.Store.
func (s *Store) Begin(ctx context.Context, req store.BeginRequest) (*store.Begun, error) {
	if err := checkBegin(req.Flow, req.Owner); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	var inst *store.Instance
	var prev *store.Execution
	if id, ok := s.keys[instKey{req.Flow, req.Key}]; ok {
		inst = s.instances[id]
		last := s.latest(id)
		fresh, err := s.decide(last, req.Rerun, req.Alive, now)
		if err != nil {
			return nil, err
		}
		if fresh {
			inst = nil
		} else {
			prev = last
		}
	}
	if inst == nil {
		s.lastInst++
		inst = &store.Instance{ID: s.lastInst, Flow: req.Flow, Key: req.Key, Created: now}
		s.instances[inst.ID] = inst
		s.keys[instKey{req.Flow, req.Key}] = inst.ID
	}
	return s.start(inst, prev, req.File, req.Params, req.Owner, now), nil
}

// Resume implements store.Store.
func (s *Store) Resume(ctx context.Context, id int64, owner store.Owner, alive func(store.Owner) bool, now time.Time) (*store.Begun, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return nil, notFound("execution", id)
	}
	if err := checkBegin(e.Flow, owner); err != nil {
		return nil, err
	}
	if e.Status == flow.Abandoned {
		return nil, fmt.Errorf("execution %d: %w", id, store.ErrAbandoned)
	}
	last := s.latest(e.InstanceID)
	if last == nil {
		return nil, notFound("execution", id)
	}
	if last.Status == flow.Abandoned {
		return nil, fmt.Errorf("execution %d of the same instance: %w", last.ID, store.ErrAbandoned)
	}
	if _, err := s.decide(last, false, alive, now); err != nil {
		return nil, err
	}
	return s.start(s.instances[e.InstanceID], last, last.File, last.Params, owner, now), nil
}

// decide applies the Begin rules to the latest execution of an instance:
// fresh reports whether a new instance must be made. A live execution of a
// gone owner is marked FAILED.
func (s *Store) decide(last *store.Execution, rerun bool, alive func(store.Owner) bool, now time.Time) (fresh bool, err error) {
	fresh, _, err = store.Decide(last, rerun, alive, now)
	return fresh, err
}

func (s *Store) latest(instID int64) *store.Execution {
	ids := s.instExecs[instID]
	if len(ids) == 0 {
		return nil
	}
	return s.execs[ids[len(ids)-1]]
}

func (s *Store) start(inst *store.Instance, prev *store.Execution, file string, params map[string]string, owner store.Owner, now time.Time) *store.Begun {
	s.lastExec++
	e := &store.Execution{
		ID:         s.lastExec,
		InstanceID: inst.ID,
		Flow:       inst.Flow,
		File:       file,
		Params:     maps.Clone(params),
		Status:     flow.Started,
		Created:    now,
		Started:    now,
		Updated:    now,
		Owner:      owner,
	}
	if prev != nil {
		e.ResumedFrom = prev.ID
	}
	s.execs[e.ID] = e
	s.instExecs[inst.ID] = append(s.instExecs[inst.ID], e.ID)
	ic := *inst
	b := &store.Begun{Instance: &ic, Execution: copyExec(e)}
	if prev != nil {
		b.Previous = copyExec(prev)
	}
	return b
}

// Execution implements store.Store.
func (s *Store) Execution(ctx context.Context, id int64) (*store.Execution, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return nil, notFound("execution", id)
	}
	return copyExec(e), nil
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, f store.Filter) ([]*store.Execution, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.execs))
	var out []*store.Execution
	for _, id := range slices.Backward(ids) {
		e := s.execs[id]
		if (f.Flow != "" && e.Flow != f.Flow) || (f.Status != "" && e.Status != f.Status) {
			continue
		}
		out = append(out, copyExec(e))
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, execID int64, exec *store.Execution, steps []store.StepRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	cur, ok := s.execs[execID]
	if !ok {
		return notFound("execution", execID)
	}
	if err := store.CheckCommit(cur, exec); err != nil {
		return err
	}
	if err := validate(exec, steps); err != nil {
		return err
	}
	if exec != nil {
		s.execs[execID] = store.MergeExecution(cur, copyExec(exec))
	}
	if len(steps) == 0 {
		return nil
	}
	byExec := s.steps[execID]
	if byExec == nil {
		byExec = map[string]store.StepRecord{}
		s.steps[execID] = byExec
	}
	byInst := s.states[cur.InstanceID]
	if byInst == nil {
		byInst = map[string]store.StepRecord{}
		s.states[cur.InstanceID] = byInst
	}
	for _, r := range steps {
		r = copyRecord(r)
		r.ExecutionID = execID
		byExec[r.Path] = r
		byInst[r.Path] = r
	}
	return nil
}

// validate checks what the other stores could not store: JSON that is not
// JSON, records without path.
func validate(exec *store.Execution, steps []store.StepRecord) error {
	if exec != nil && len(exec.Outputs) > 0 && !json.Valid(exec.Outputs) {
		return fmt.Errorf("execution %d: outputs are not valid JSON", exec.ID)
	}
	for _, r := range steps {
		if r.Path == "" {
			return errors.New("step record without path")
		}
		for _, m := range []json.RawMessage{r.Outputs, r.Assigned, r.Progress} {
			if len(m) > 0 && !json.Valid(m) {
				return fmt.Errorf("step %s: invalid JSON", r.Path)
			}
		}
	}
	return nil
}

// States implements store.Store.
func (s *Store) States(ctx context.Context, instanceID int64) ([]store.StepRecord, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if _, ok := s.instances[instanceID]; !ok {
		return nil, notFound("instance", instanceID)
	}
	return sortedRecords(s.states[instanceID]), nil
}

// Steps implements store.Store.
func (s *Store) Steps(ctx context.Context, execID int64) ([]store.StepRecord, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if _, ok := s.execs[execID]; !ok {
		return nil, notFound("execution", execID)
	}
	return sortedRecords(s.steps[execID]), nil
}

func sortedRecords(m map[string]store.StepRecord) []store.StepRecord {
	out := make([]store.StepRecord, 0, len(m))
	for _, p := range slices.Sorted(maps.Keys(m)) {
		out = append(out, copyRecord(m[p]))
	}
	return out
}

// Heartbeat implements store.Store.
func (s *Store) Heartbeat(ctx context.Context, execID int64, token string, until time.Time) (bool, error) {
	if err := s.lock(); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	e, ok := s.execs[execID]
	if !ok {
		return false, notFound("execution", execID)
	}
	if err := store.CheckCommit(e, &store.Execution{Owner: store.Owner{Token: token}}); err != nil {
		return false, err
	}
	e.Owner.Until = until
	return e.StopRequested, nil
}

// RequestStop implements store.Store.
func (s *Store) RequestStop(ctx context.Context, id int64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return notFound("execution", id)
	}
	if !e.Live() {
		return fmt.Errorf("execution %d is %s: %w", id, e.Status, store.ErrNotLive)
	}
	e.StopRequested = true
	e.Status = flow.Stopping
	e.Updated = time.Now()
	return nil
}

// Abandon implements store.Store.
func (s *Store) Abandon(ctx context.Context, id int64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return notFound("execution", id)
	}
	now := time.Now()
	switch {
	case e.Status == flow.Abandoned:
		return nil
	case e.Status == flow.Completed:
		return fmt.Errorf("execution %d: %w", id, store.ErrCompleted)
	case e.Live() && !e.OwnerGone(nil, now):
		return fmt.Errorf("execution %d (%s): %w", id, e.Owner, store.ErrOwned)
	}
	if e.Ended.IsZero() {
		e.Ended = now
	}
	e.Status = flow.Abandoned
	e.ExitStatus = string(flow.Abandoned)
	e.Updated = now
	return nil
}

// Prune implements store.Store.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	if err := s.lock(); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for id, e := range s.execs {
		if e.Live() || e.Ended.IsZero() || !e.Ended.Before(before) {
			continue
		}
		delete(s.execs, id)
		delete(s.steps, id)
		s.instExecs[e.InstanceID] = slices.DeleteFunc(s.instExecs[e.InstanceID], func(x int64) bool { return x == id })
		n++
	}
	for id, inst := range s.instances {
		if len(s.instExecs[id]) > 0 {
			continue
		}
		delete(s.instances, id)
		delete(s.instExecs, id)
		delete(s.states, id)
		k := instKey{inst.Flow, inst.Key}
		if s.keys[k] == id {
			delete(s.keys, k)
		}
	}
	// A key whose latest instance went falls back on its newest other one.
	for _, inst := range s.instances {
		k := instKey{inst.Flow, inst.Key}
		if s.keys[k] < inst.ID {
			s.keys[k] = inst.ID
		}
	}
	return n, nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func checkBegin(flowName string, o store.Owner) error {
	if flowName == "" {
		return errors.New("begin: no flow name")
	}
	if o.Token == "" {
		return errors.New("begin: the owner has no token")
	}
	return nil
}

func notFound(what string, id int64) error {
	return fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
}

func copyExec(e *store.Execution) *store.Execution {
	c := *e
	c.Params = maps.Clone(e.Params)
	c.Outputs = cloneJSON(e.Outputs)
	return &c
}

func copyRecord(r store.StepRecord) store.StepRecord {
	r.Outputs = cloneJSON(r.Outputs)
	r.Assigned = cloneJSON(r.Assigned)
	r.Progress = cloneJSON(r.Progress)
	r.Counters = maps.Clone(r.Counters)
	return r
}

func cloneJSON(m json.RawMessage) json.RawMessage {
	if m == nil {
		return nil
	}
	return slices.Clone(m)
}
