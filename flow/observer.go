package flow

import (
	"log/slog"
	"time"
)

// EventKind names what happened.
type EventKind string

// Event kinds.
const (
	RunStarted    EventKind = "run_started"
	RunFinished   EventKind = "run_finished"
	StepStarted   EventKind = "step_started"
	StepCompleted EventKind = "step_completed"
	StepFailed    EventKind = "step_failed"
	StepSkipped   EventKind = "step_skipped"
	StepRetrying  EventKind = "step_retrying"
	StepRecovered EventKind = "step_recovered" // a catch block handled the failure
	StepRestored  EventKind = "step_restored"  // completed in an earlier execution: not run again
	StepLog       EventKind = "step_log"       // a message a step wants shown (log steps)
	StepProgress  EventKind = "step_progress"  // a long step's progress (batch counters)
)

// Event is one thing that happened during a run.
type Event struct {
	Kind     EventKind
	Time     time.Time
	RunID    string
	Flow     string
	Path     string // the step's path; empty for run events
	StepType string
	Attempt  int           // 1 for the first attempt
	Err      error         // for failed, retrying and recovered
	Delay    time.Duration // for retrying: the wait before the next attempt
	Duration time.Duration // for completed and failed
	Status   Status        // for run_finished
	Level    slog.Level    // for step_log
	Message  string        // for step_log
	// Counters are a batch step's counters (read_count, ...), for
	// step_progress; Total is the input size in bytes when known (0 if not)
	// and Done how much of it is read, for an ETA.
	Counters map[string]int64
	Total    int64
	Done     int64
}

// Observer receives a run's events. Observe is called from the goroutine of
// the step concerned, so it must be safe for concurrent use and quick.
type Observer interface {
	Observe(e Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(e Event)

// Observe calls f.
func (f ObserverFunc) Observe(e Event) { f(e) }

// Observers fans events out to several observers.
type Observers []Observer

// Observe sends e to each observer.
func (os Observers) Observe(e Event) {
	for _, o := range os {
		if o != nil {
			o.Observe(e)
		}
	}
}
