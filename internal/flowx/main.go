// Command flowx is the flow binary plus Go processors, as a program that
// embeds Flowbatch builds it: it registers the standard transform of the
// batch tests (internal/gen) as processor "standard" and runs the whole
// command line. The kill -9 test of the batch step (internal/chaos) and
// the benchmarks drive it.
//
//	flowx exec batch.flow.hcl --store flow.db -p in=in.csv -p out=out.csv
package main

import (
	"os"

	"github.com/flowbatch/flow/cli"
	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/steps/batch"
)

func main() {
	cli.TuneGC()
	batch.RegisterFunc("standard", gen.ProcessorSummary, gen.Process)
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
