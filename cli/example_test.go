package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/cli"
	"github.com/flowbatch/flow/flow"
)

// A program of your own registers its step types (or decorators, or batch
// readers, processors and writers) before it hands over to cli.Main; here
// in init, as a main function would before calling cli.Main.
func init() {
	flow.RegisterStep(&flow.StepType{
		Name:    "shout",
		Pure:    true,
		Summary: "Upper-cases a text.",
		Attrs:   []flow.Attr{{Name: "text", Type: cty.String, Required: true, Doc: "The text."}},
		Outputs: []flow.OutputDoc{{Name: "text", Type: "string", Doc: "The text in upper case."}},
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
}

const loud = `
flow "loud" {
  param "name" {
    type = string
  }
  shout "greet" {
    text = "hello, ${param.name}!"
  }
  output "greeting" {
    value = step.greet.text
  }
}
`

// cli.Main is the whole flow command line: a program that registers its
// own step types and calls it, with
//
//	func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
//
// is flow plus those steps: exec, resume, history, show, graph, validate
// and the rest. Here it runs one exec and returns its exit code.
func ExampleMain() {
	dir, err := os.MkdirTemp("", "cli-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "loud.flow.hcl")
	if err := os.WriteFile(file, []byte(loud), 0o644); err != nil {
		log.Fatal(err)
	}

	var stdout bytes.Buffer
	code := cli.Main([]string{"exec", file, "-p", "name=Ada", "--store", filepath.Join(dir, "flow.db"), "--quiet", "--output", "json"},
		os.Stdin, &stdout, os.Stderr)

	var res struct {
		Status  string            `json:"status"`
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit code", code, res.Status, res.Outputs["greeting"])
	// Output: exit code 0 COMPLETED HELLO, ADA!
}
