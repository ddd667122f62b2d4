// Package store keeps the durable record of flow executions: job instances
// (a flow and its identifying params), executions (one run of an instance),
// and for each step its latest state, so that a failed, stopped or killed
// execution can be resumed where it stopped.
//
// Store is implemented by the bbolt store (store/bolt: one file, one process
// at a time, the default), the PostgreSQL store (store/postgres: shared by
// processes and machines) and an in-memory store (store/memory: tests and
// benchmarks). store/storetest holds the conformance suite all of them pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowbatch/flow/flow"
)

// Errors a Store returns; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrCompleted: the instance's last execution completed; run again only
	// with Rerun.
	ErrCompleted = errors.New("instance already completed")
	// ErrOwned: the instance's last execution is still owned by a live
	// process.
	ErrOwned = errors.New("execution owned by a live process")
	// ErrLeaseLost: another process took the execution over.
	ErrLeaseLost = errors.New("execution lease lost")
	// ErrAbandoned: the execution was abandoned and cannot be resumed.
	ErrAbandoned = errors.New("execution abandoned")
	// ErrNotLive: the execution has ended (RequestStop).
	ErrNotLive = errors.New("execution not running")
)

// Owner is the process that runs an execution.
type Owner struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Token string    `json:"token"` // unique to one process's run
	Until time.Time `json:"until"` // the lease ends then unless renewed
}

func (o Owner) String() string {
	return fmt.Sprintf("pid %d on %s", o.PID, o.Host)
}

// Instance is a flow with one set of identifying params.
type Instance struct {
	ID      int64     `json:"id"`
	Flow    string    `json:"flow"`
	Key     string    `json:"key"` // hash of the identifying params
	Created time.Time `json:"created"`
}

// Execution is one run of an instance.
type Execution struct {
	ID         int64             `json:"id"`
	InstanceID int64             `json:"instance_id"`
	Flow       string            `json:"flow"`
	File       string            `json:"file"`
	Params     map[string]string `json:"params"` // for display; sensitive ones masked
	Status     flow.Status       `json:"status"`
	ExitStatus string            `json:"exit_status"`
	Created    time.Time         `json:"created"`
	Started    time.Time         `json:"started"`
	Ended      time.Time         `json:"ended,omitzero"`
	Updated    time.Time         `json:"updated"`
	FailedStep string            `json:"failed_step,omitempty"`
	Error      string            `json:"error,omitempty"`
	Owner      Owner             `json:"owner"`
	// StopRequested asks the owner to stop at its next safe point.
	StopRequested bool            `json:"stop_requested,omitempty"`
	Outputs       json.RawMessage `json:"outputs,omitempty"`
	// ResumedFrom is the execution this one carries on from, or 0.
	ResumedFrom int64 `json:"resumed_from,omitempty"`
}

// Live reports whether the execution has not ended.
func (e *Execution) Live() bool {
	switch e.Status {
	case flow.Starting, flow.Started, flow.Stopping:
		return true
	}
	return false
}

// OwnerGone reports whether the owner of a live execution is gone at now:
// its lease ended (Owner.Until is not after now), or alive, when not nil,
// says it no longer runs. A gone owner's execution may be taken over.
func (e *Execution) OwnerGone(alive func(Owner) bool, now time.Time) bool {
	if !e.Owner.Until.After(now) {
		return true
	}
	return alive != nil && !alive(e.Owner)
}

// StepRecord is the state of one step execution, addressed by its path.
type StepRecord struct {
	Path        string      `json:"path"`
	Type        string      `json:"type"`
	Status      flow.Status `json:"status"`
	Attempt     int         `json:"attempt"`
	ExecutionID int64       `json:"execution_id"`
	Started     time.Time   `json:"started,omitzero"`
	Ended       time.Time   `json:"ended,omitzero"`
	// Outputs, Assigned and Progress are JSON kept for the engine: the
	// step's outputs (with their types), the variables it assigned, and a
	// composite step's progress.
	Outputs   json.RawMessage  `json:"outputs,omitempty"`
	Assigned  json.RawMessage  `json:"assigned,omitempty"`
	Progress  json.RawMessage  `json:"progress,omitempty"`
	Counters  map[string]int64 `json:"counters,omitempty"`
	ErrorKind string           `json:"error_kind,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// BeginRequest asks to start an execution of a flow with some params.
type BeginRequest struct {
	Flow   string
	Key    string // hash of the identifying params
	File   string
	Params map[string]string
	Owner  Owner
	// Rerun makes a new instance even when one with this key completed
	// (or failed: Rerun always starts afresh).
	Rerun bool
	// Alive reports whether the owner of a live-looking execution still
	// runs; nil means: alive until its lease ends. An owner whose lease
	// ended is gone whatever Alive says (see Execution.OwnerGone). The
	// bbolt store, which one process holds at a time, counts the owners of
	// other processes as gone when Alive is nil.
	Alive func(Owner) bool
	Now   time.Time // zero: time.Now()
}

// Begun is what Begin did.
type Begun struct {
	Instance  *Instance
	Execution *Execution
	// Previous is the execution this one resumes (FAILED, STOPPED, or left
	// STARTED by a dead owner and now marked FAILED), or nil for a fresh start.
	Previous *Execution
}

// Filter selects executions for History.
type Filter struct {
	Flow   string
	Status flow.Status
	Limit  int // 0: no limit
}

// Store is the job repository.
type Store interface {
	// Begin finds or creates the instance of req.Flow and req.Key and
	// starts a new execution of it owned by req.Owner (status STARTED), in
	// one transaction. It fails with ErrCompleted when the instance
	// completed (unless Rerun), and with ErrOwned when its last execution
	// is still owned by a live process. An execution left live by a dead
	// owner is marked FAILED and resumed. When the last execution was
	// ABANDONED, or with Rerun, Begin makes a new instance (no states, no
	// Previous).
	Begin(ctx context.Context, req BeginRequest) (*Begun, error)
	// Resume starts a new execution carrying on from execution id, which
	// must be FAILED, STOPPED or left by a dead owner. When a later
	// execution of the same instance exists, Resume carries on from the
	// latest one under the same rules; ErrCompleted, ErrOwned and
	// ErrAbandoned as for Begin. File, Params and Flow are copied.
	Resume(ctx context.Context, id int64, owner Owner, alive func(Owner) bool, now time.Time) (*Begun, error)
	// Execution returns one execution.
	Execution(ctx context.Context, id int64) (*Execution, error)
	// History lists executions, newest first.
	History(ctx context.Context, f Filter) ([]*Execution, error)
	// Commit writes step records and, when exec is not nil, the execution
	// record, in one transaction. The stored execution must still be live,
	// and exec.Owner.Token must match the stored owner's, or ErrLeaseLost
	// and nothing is written. ID, InstanceID, Flow, Created and
	// ResumedFrom keep their stored values; a stop request is kept (a
	// STARTED status then stays STOPPING). Each record's ExecutionID is
	// set to execID; a record replaces the one of the same path, both in
	// the execution's records and in its instance's states.
	Commit(ctx context.Context, execID int64, exec *Execution, steps []StepRecord) error
	// States returns the latest record of every step of an instance,
	// whatever execution wrote it: what a resumed execution starts from.
	// Ordered by path.
	States(ctx context.Context, instanceID int64) ([]StepRecord, error)
	// Steps returns the records written by one execution, the latest per
	// path, ordered by path.
	Steps(ctx context.Context, execID int64) ([]StepRecord, error)
	// Heartbeat extends the owner's lease, and reports whether a stop was
	// requested. ErrLeaseLost when the token differs or the execution
	// has ended.
	Heartbeat(ctx context.Context, execID int64, token string, until time.Time) (stop bool, err error)
	// RequestStop asks the owner of a live execution to stop (status
	// STOPPING); ErrNotLive when it has ended.
	RequestStop(ctx context.Context, id int64) error
	// Abandon marks a non-live execution ABANDONED: it will not be resumed,
	// and its instance starts afresh next time. A live execution whose
	// owner is not gone (its lease has not ended; the bbolt store also
	// counts the owners of other processes as gone) gives ErrOwned, a
	// COMPLETED one ErrCompleted; abandoning an abandoned execution does
	// nothing.
	Abandon(ctx context.Context, id int64) error
	// Prune deletes executions that ended before t (and instances left
	// without executions), returning how many executions went.
	Prune(ctx context.Context, before time.Time) (int, error)
	// Close releases the store; closing twice does no harm.
	Close() error
}

// CheckCommit reports whether the committer of exec may write over the
// stored execution cur: it must be the same execution, still live, and
// owned by the same token (ErrLeaseLost otherwise). Stores call it inside
// their commit transaction; exec may be nil for a commit of steps alone.
func CheckCommit(cur, exec *Execution) error {
	if exec != nil && exec.ID != 0 && exec.ID != cur.ID {
		return fmt.Errorf("commit of execution %d with the record of execution %d", cur.ID, exec.ID)
	}
	if !cur.Live() {
		return fmt.Errorf("execution %d has ended (%s): %w", cur.ID, cur.Status, ErrLeaseLost)
	}
	if exec != nil && exec.Owner.Token != cur.Owner.Token {
		return fmt.Errorf("execution %d is owned by %s: %w", cur.ID, cur.Owner, ErrLeaseLost)
	}
	return nil
}

// MergeExecution returns exec as a store keeps it over cur: the fields a
// commit cannot change come from cur, and a stop requested meanwhile is
// kept (a started execution becomes STOPPING).
func MergeExecution(cur, exec *Execution) *Execution {
	e := *exec
	e.ID, e.InstanceID, e.Flow, e.Created, e.ResumedFrom = cur.ID, cur.InstanceID, cur.Flow, cur.Created, cur.ResumedFrom
	if cur.StopRequested {
		e.StopRequested = true
		if e.Status == flow.Started || e.Status == flow.Starting {
			e.Status = flow.Stopping
		}
	}
	return &e
}

// Decide applies the rules of Begin and Resume to the last execution of an
// instance: ErrOwned while a live owner runs it; a live execution whose
// owner is gone is marked FAILED in place (tookOver: the caller stores
// it); ErrCompleted for a completed one unless rerun; fresh when a new
// instance must start (rerun, or the last execution was abandoned).
func Decide(last *Execution, rerun bool, alive func(Owner) bool, now time.Time) (fresh, tookOver bool, err error) {
	if last == nil {
		return false, false, nil
	}
	if last.Live() {
		if !last.OwnerGone(alive, now) {
			return false, false, fmt.Errorf("execution %d (%s): %w", last.ID, last.Owner, ErrOwned)
		}
		last.Status = flow.Failed
		last.ExitStatus = string(flow.Failed)
		last.Ended = now
		last.Updated = now
		last.Error = fmt.Sprintf("owner %s died or lost its lease", last.Owner)
		tookOver = true
	}
	switch {
	case rerun || last.Status == flow.Abandoned:
		return true, tookOver, nil
	case last.Status == flow.Completed:
		return false, tookOver, fmt.Errorf("execution %d: %w", last.ID, ErrCompleted)
	}
	return false, tookOver, nil
}
