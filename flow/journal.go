package flow

import (
	"encoding/json"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Journal makes a run durable: the engine tells it each step's state as the
// run goes, and asks it, before running a step, what an earlier execution of
// the same job instance left for that path. The store package implements it
// over a job repository; a run without a journal keeps nothing.
//
// Resume works by replay: a step that completed earlier is not run again;
// its outputs are restored and the variable assignments it made are applied
// again, in the original order, so every scope ends up as it was. Composite
// steps keep only the decisions that could come out differently a second
// time in their progress: the iteration a loop reached, the branch a choose
// took, the collection a fork iterates.
type Journal interface {
	// Restore returns the state an earlier execution left for path.
	Restore(path string) (StepState, bool)
	// Record keeps a step's latest state. With sync, it returns only once
	// that state and every one recorded before it are durable; without, it
	// may group states into later commits.
	Record(s StepState, sync bool) error
	// Forget drops what is kept for path and every path below it: a
	// retried step starts over.
	Forget(path string) error
}

// StepState is what the journal keeps of one step execution.
type StepState struct {
	Path     string
	Type     string
	Status   Status
	Attempt  int
	Started  time.Time
	Ended    time.Time
	Outputs  cty.Value // for COMPLETED steps
	Assigned []Assignment
	// Progress is a composite step's own progress (SaveProgress).
	Progress  json.RawMessage
	Counters  map[string]int64
	ErrorKind string
	Error     string
}
