package steps

import (
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	_ "github.com/flowbatch/flow/steps/batch/files" // the standard readers and writers: csv, jsonl, fixed-width
	_ "github.com/flowbatch/flow/steps/sqldb"       // datasources, the sql step, transactions, SQL reader and writer
)

func init() { Register(flow.DefaultRegistry) }

// Types returns the standard step types.
func Types() []*flow.StepType {
	return []*flow.StepType{
		Sequential, Parallel, Loop, Choose, Fork,
		Set, Log, Sleep, Fail, Exec, Call,
		batch.Step,
	}
}

// Register adds the standard step types to reg.
func Register(reg *flow.Registry) {
	for _, t := range Types() {
		reg.RegisterStep(t)
	}
}
