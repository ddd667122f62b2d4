// Package sqldb makes databases first-class in flows: the flow-level
// datasource block (SQLite embedded, PostgreSQL, MySQL and MariaDB through
// database/sql), the sql step, the transaction decorator, and the batch
// step's reader "sql" (keyset pagination, resumable, partitionable) and
// writer "sql" (multi-row insert, upsert, update; exactly once through
// chunk markers committed with the rows).
//
// Importing the package registers all of them into flow.DefaultRegistry
// and the batch registry; the steps package imports it.
package sqldb

import (
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
)

func init() {
	Register(flow.DefaultRegistry)
	batch.RegisterReader(Reader)
	batch.RegisterWriter(Writer)
}

// Register adds the datasource block, the sql step and the transaction
// decorator to reg. (The reader and writer are in the batch registry,
// which is global.)
func Register(reg *flow.Registry) {
	reg.RegisterFlowBlock(DatasourceBlock)
	reg.RegisterStep(Step)
	reg.RegisterDecorator(Transaction)
}
