package flow_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps"
)

const helloFlow = `
flow "hello" {
  param "name" {
    type    = string
    default = "world"
  }

  log "greet" {
    message = "Hello, ${param.name}!"
  }

  output "greeting" {
    value = step.greet.message
  }
}
`

// Load a flow from an fs.FS (here in memory; os.DirFS or embed.FS work the
// same), run it with a param and read its outputs.
func Example() {
	fsys := fstest.MapFS{"hello.flow.hcl": {Data: []byte(helloFlow)}}
	set, diags := flow.LoadFS(fsys, "hello.flow.hcl", nil)
	if diags.HasErrors() {
		fmt.Println(diags.Error())
		return
	}
	f, _ := set.Only()
	res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{
		Params: map[string]cty.Value{"name": cty.StringVal("Flowbatch")},
	})
	if err != nil {
		fmt.Println(err) // params that do not fit
		return
	}
	fmt.Println(res.Status, res.Outputs["greeting"].AsString())
	// Output: COMPLETED Hello, Flowbatch!
}

// Register a step type of your own. Here it goes into a private registry
// next to the standard steps and decorators; flow.RegisterStep adds to the
// default one instead.
func ExampleRegistry_RegisterStep() {
	reg := flow.NewRegistry()
	steps.Register(reg)
	decorators.Register(reg)
	reg.RegisterStep(&flow.StepType{
		Name:    "shout",
		Summary: "Upper-cases a text.",
		Attrs:   []flow.Attr{{Name: "text", Type: cty.String, Required: true}},
		Outputs: []flow.OutputDoc{{Name: "text", Type: "string"}},
		New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
			return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
				s, err := x.String("text")
				if err != nil {
					return cty.NilVal, err
				}
				return cty.ObjectVal(map[string]cty.Value{"text": cty.StringVal(strings.ToUpper(s))}), nil
			}), nil
		},
	})
	src := `
flow "loud" {
  shout "hi" { text = "hello" }
  output "said" { value = step.hi.text }
}`
	set, diags := flow.LoadFS(fstest.MapFS{"loud.flow.hcl": {Data: []byte(src)}}, "loud.flow.hcl", reg)
	if diags.HasErrors() {
		fmt.Println(diags.Error())
		return
	}
	f, _ := set.Only()
	res, _ := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{})
	fmt.Println(res.Outputs["said"].AsString())
	// Output: HELLO
}

// Observe a run's events: every step start, end, retry and failure.
func ExampleObserverFunc() {
	src := `
flow "two" {
  log "a" { message = "first" }
  log "b" { message = "second" }
}`
	set, _ := flow.LoadFS(fstest.MapFS{"two.flow.hcl": {Data: []byte(src)}}, "two.flow.hcl", nil)
	f, _ := set.Only()
	obs := flow.ObserverFunc(func(e flow.Event) {
		if e.Kind == flow.StepCompleted {
			fmt.Println("completed", e.Path)
		}
	})
	_, _ = flow.NewEngine(obs).Run(context.Background(), f, flow.RunOptions{})
	// Output:
	// completed main/a
	// completed main/b
	// completed main
}

// Static checks run when a flow is loaded: nothing runs when they fail.
func ExampleLoad_diagnostics() {
	src := `
flow "typo" {
  log "a" { message = "${param.nmae}" }
  param "name" { type = string }
}`
	_, diags := flow.LoadFS(fstest.MapFS{"typo.flow.hcl": {Data: []byte(src)}}, "typo.flow.hcl", nil)
	for _, d := range diags {
		fmt.Printf("%s: %s; %s\n", flow.Pos(*d.Subject), d.Summary, d.Detail)
	}
	// Output: typo.flow.hcl:3:26: Reference to undeclared param; No param named "nmae" is declared. Did you mean "name"?
}

// Parse a command-line param value: strings are taken as they are, other
// types as HCL expressions.
func ExampleParseParam() {
	p := &flow.Param{Name: "files", Type: cty.List(cty.String)}
	v, err := flow.ParseParam(p, `["a.csv", "b.csv"]`)
	fmt.Println(flow.FormatValue(v), err)
	// Output: ["a.csv", "b.csv"] <nil>
}

// Draw a flow as a Mermaid flowchart.
func ExampleFlow_WriteGraph() {
	src := `
flow "g" {
  parallel "both" {
    log "x" { message = "x" }
    log "y" { message = "y" }
  }
}`
	set, _ := flow.LoadFS(fstest.MapFS{"g.flow.hcl": {Data: []byte(src)}}, "g.flow.hcl", nil)
	f, _ := set.Only()
	_ = f.WriteGraph(os.Stdout, "mermaid")
	// Output:
	// flowchart TD
	//   n0["flow g"]
	//   n1["parallel both"]
	//   n2["log x"]
	//   n3["log y"]
	//   n0 --> n1
	//   n1 --> n2
	//   n1 --> n3
}
