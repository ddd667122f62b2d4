package script

import (
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

func init() {
	flow.RegisterStep(Step)
	batch.RegisterProcessor(Processor)
	batch.RegisterExpressions(Expressions{})
	hookBatchCheck(batch.Step)
}
