package flow

// Status is the state of a run or of one step execution.
type Status string

// Statuses, as in Spring Batch's BatchStatus, plus SKIPPED for steps.
const (
	Starting  Status = "STARTING"
	Started   Status = "STARTED"
	Stopping  Status = "STOPPING"
	Stopped   Status = "STOPPED"
	Completed Status = "COMPLETED"
	Failed    Status = "FAILED"
	Abandoned Status = "ABANDONED"
	Unknown   Status = "UNKNOWN"
	Skipped   Status = "SKIPPED"
)

// ExitCode is the process exit code the CLI uses for a run that ended with
// this status: 0 completed, 1 failed, 3 stopped.
func (s Status) ExitCode() int {
	switch s {
	case Completed:
		return 0
	case Stopped, Stopping:
		return 3
	default:
		return 1
	}
}
