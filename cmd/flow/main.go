// Command flow runs and checks Flowbatch flows (*.flow.hcl).
//
//	flow exec FILE [-p name=value]... [--params-file F] [--output text|json] [--rerun] [--no-store]
//	flow resume EXEC_ID [-p name=value]...
//	flow stop EXEC_ID
//	flow abandon EXEC_ID
//	flow history [FLOW] [--status S] [--limit N]
//	flow show EXEC_ID
//	flow prune --older-than AGE
//	flow validate FILE...
//	flow fmt [--check] FILE...
//	flow graph FILE [--format mermaid|dot|svg]
//	flow version
//
// Executions are kept in a store: --store or FLOW_STORE, a bbolt file
// (.flow/flow.db by default) or a postgres:// URL.
//
// Exit codes: 0 completed, 1 failed, 2 usage or validation error, 3 stopped.
package main

import (
	"os"

	"github.com/flowbatch/flow/cli"
)

func main() {
	cli.TuneGC()
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
