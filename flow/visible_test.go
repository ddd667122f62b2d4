package flow_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps"
)

// Visible gives a step every root its expressions could name: params,
// flow, the nearest declaration of each variable, the outputs of the
// steps before it and the locals of the composites around it.
func TestExecVisible(t *testing.T) {
	reg := flow.NewRegistry()
	steps.Register(reg)
	decorators.Register(reg)
	var mu sync.Mutex
	seen := map[string]map[string]cty.Value{}
	reg.RegisterStep(&flow.StepType{
		Name:  "peek",
		Attrs: []flow.Attr{{Name: "tag", Type: cty.String}},
		New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
			return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
				tag, err := x.String("tag")
				if err != nil {
					return cty.NilVal, err
				}
				mu.Lock()
				seen[tag] = x.Visible()
				mu.Unlock()
				return cty.EmptyObjectVal, nil
			}), nil
		},
	})
	src := `
flow "v" {
  param "p" { default = 1 }
  vars = { a = "outer", b = "outer b" }
  log "first" { message = "hi" }
  sequential "s" {
    vars = { a = "inner" }
    peek "in_seq" { tag = "seq" }
  }
  fork "f" {
    for_each = ["x"]
    peek "in_fork" { tag = "fork" }
  }
}`
	set, diags := flow.LoadFS(fstest.MapFS{"v.flow.hcl": {Data: []byte(src)}}, "v.flow.hcl", reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	f, _ := set.Only()
	res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{})
	if err != nil || res.Status != flow.Completed {
		t.Fatalf("run: %v %v", err, res.Err)
	}
	seq := seen["seq"]
	if got := seq["var"].GetAttr("a").AsString(); got != "inner" {
		t.Errorf("var.a = %q, want the nearest declaration", got)
	}
	if got := seq["var"].GetAttr("b").AsString(); got != "outer b" {
		t.Errorf("var.b = %q", got)
	}
	if got := seq["step"].GetAttr("first").GetAttr("message").AsString(); got != "hi" {
		t.Errorf("step.first.message = %q", got)
	}
	if got := seq["param"].GetAttr("p"); !got.RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("param.p = %#v", got)
	}
	if got := seq["flow"].GetAttr("name").AsString(); got != "v" {
		t.Errorf("flow.name = %q", got)
	}
	if _, ok := seq["each"]; ok {
		t.Error("each is visible outside a fork")
	}
	fork := seen["fork"]
	if got := fork["each"].GetAttr("value").AsString(); got != "x" {
		t.Errorf("each.value = %q", got)
	}
	var roots []string
	for k := range fork {
		roots = append(roots, k)
	}
	sort.Strings(roots)
	if got := strings.Join(roots, ","); got != "each,flow,param,step,var" {
		t.Errorf("roots in a fork = %s", got)
	}
}

// Loader.FS tells where a flow's files are read: its fs.FS, or nil for the
// operating system's.
func TestLoaderFS(t *testing.T) {
	fsys := fstest.MapFS{"a.flow.hcl": {Data: []byte(`flow "a" {}`)}}
	set, diags := flow.LoadFS(fsys, "a.flow.hcl", nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if set.Flows[0].Loader().FS() == nil {
		t.Error("FS of an fs.FS loader is nil")
	}
	if flow.NewLoader(nil).FS() != nil {
		t.Error("FS of an OS loader is not nil")
	}
}
