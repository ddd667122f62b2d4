// Package flow is the Flowbatch engine: it loads flows written in HCL
// (*.flow.hcl), checks them before anything runs, and executes them with
// lexically scoped variables, decorators and observable events.
//
// The package knows no concrete step type. Step types (sequential, exec,
// batch, ...) and decorators (if, retry, timeout, ...) register themselves into
// a Registry, the way database/sql drivers do; the packages
// github.com/flowbatch/flow/steps and github.com/flowbatch/flow/decorators
// register the standard ones when imported.
//
// A typical embedding:
//
//	set, diags := flow.Load("hello.flow.hcl", nil)
//	if diags.HasErrors() { ... }
//	f, _ := set.Only()
//	res := flow.NewEngine(nil).Run(ctx, f, flow.RunOptions{Params: ...})
//	fmt.Println(res.Status, res.Outputs)
package flow
