package flow_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// A step's own blocks may leave trailing labels out when their type says
// MinLabels (writer "csv" { ... } in a batch step): a left-out label
// repeats the one before it. Only nested blocks got this before.
func TestStepBlockMinLabels(t *testing.T) {
	reg := flow.NewRegistry()
	reg.RegisterStep(&flow.StepType{
		Name: "pipe",
		Blocks: []flow.BlockType{
			{Name: "sink", Labels: []string{"type", "name"}, MinLabels: 1,
				Attrs: func([]string) ([]flow.Attr, error) { return []flow.Attr{{Name: "path", Type: cty.String}}, nil }},
			{Name: "tap", Labels: []string{"type", "name"},
				Attrs: func([]string) ([]flow.Attr, error) { return nil, nil }},
		},
		New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
			return flow.StepFunc(func(context.Context, *flow.Exec) (cty.Value, error) { return cty.EmptyObjectVal, nil }), nil
		},
	})
	load := func(body string) (*flow.Node, hcl.Diagnostics) {
		src := "flow \"l\" {\n  pipe \"p\" {\n" + body + "\n  }\n}\n"
		set, diags := flow.LoadFS(fstest.MapFS{"l.flow.hcl": {Data: []byte(src)}}, "l.flow.hcl", reg)
		if diags.HasErrors() {
			return nil, diags
		}
		f, err := set.Only()
		if err != nil {
			t.Fatal(err)
		}
		return f.Root.Body.Lookup("p"), nil
	}
	n, diags := load(`    sink "csv" { path = "a" }
    sink "csv" "second" { path = "b" }`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var got []string
	for _, b := range n.BlocksOf("sink") {
		got = append(got, b.Label(0)+"/"+b.Label(1))
	}
	if strings.Join(got, " ") != "csv/csv csv/second" {
		t.Errorf("sink labels %v, want csv/csv csv/second", got)
	}
	// Without MinLabels every label is required.
	if _, diags := load(`    tap "x" {}`); !diags.HasErrors() || !strings.Contains(diags.Error(), "2 labels") {
		t.Errorf("a tap block with one label: %v", diags)
	}
}
