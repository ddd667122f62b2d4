// Command flow runs and checks Flowbatch flows (*.flow.hcl).
//
//	flow exec FILE [-p name=value]... [--params-file F] [--output text|json]
//	flow validate FILE...
//	flow fmt [--check] FILE...
//	flow graph FILE [--format mermaid|dot]
//	flow version
//
// Exit codes: 0 completed, 1 failed, 2 usage or validation error, 3 stopped.
package main

import (
	"os"

	_ "github.com/flowbatch/flow/decorators"
	_ "github.com/flowbatch/flow/steps"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
