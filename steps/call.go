package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// Call runs another flow file as a step.
var Call = &flow.StepType{
	Name:    "call",
	Pure:    true, // its own steps decide
	Summary: "Runs another flow file as a step, with its own params; its outputs become this step's outputs.",
	Attrs: []flow.Attr{
		{Name: "flow", Type: cty.String, Required: true, Doc: "The path of the flow file, relative to this flow file's directory."},
		{Name: "name", Type: cty.String, Doc: "Which flow of that file to run, when it holds several."},
		{Name: "params", Type: cty.DynamicPseudoType, Doc: "The called flow's params, as an object."},
	},
	Outputs: []flow.OutputDoc{{Name: "NAME", Type: "any", Doc: "Each output of the called flow."}},
	Check: func(n *flow.Node) hcl.Diagnostics {
		a := n.Attr("flow")
		if a == nil || len(a.Expr.Variables()) > 0 {
			return nil // a computed path is loaded and checked when the step runs
		}
		v, diags := a.Expr.Value(&hcl.EvalContext{Functions: flow.Functions(n.Flow.Dir)})
		if diags.HasErrors() || v.IsNull() || v.Type() != cty.String {
			return nil // reported by the attribute checks
		}
		_, diags = target(n, v.AsString(), n.Attr("name"))
		out := make(hcl.Diagnostics, len(diags))
		for i, d := range diags {
			if d.Subject == nil {
				// Copy: the loader caches the callee's diagnostics, and
				// another call to the same file has its own position.
				c := *d
				c.Subject = a.Expr.Range().Ptr()
				d = &c
			}
			out[i] = d
		}
		return out
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runCall), nil },
}

// target loads the called flow.
func target(n *flow.Node, path string, nameAttr *hcl.Attribute) (*flow.Flow, hcl.Diagnostics) {
	set, diags := n.Flow.Loader().LoadFrom(path, n.Flow)
	if diags.HasErrors() {
		return nil, diags
	}
	name := ""
	if nameAttr != nil && len(nameAttr.Expr.Variables()) == 0 {
		if v, d := nameAttr.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && !v.IsNull() {
			name = v.AsString()
		}
	}
	var f *flow.Flow
	var err error
	if name != "" {
		f, err = set.Flow(name)
	} else {
		f, err = set.Only()
	}
	if err != nil {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot call " + path, Detail: err.Error()}
		if name != "" {
			d.Subject = nameAttr.Expr.Range().Ptr() // the flow name is what is wrong
		}
		return nil, hcl.Diagnostics{d}
	}
	return f, nil
}

func runCall(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	path, err := x.String("flow")
	if err != nil {
		return cty.NilVal, err
	}
	set, diags := x.Flow().Loader().LoadFrom(path, x.Flow())
	if diags.HasErrors() {
		return cty.NilVal, flow.Errorf(flow.KindFailed, "%s: call %s: %s", flow.Pos(x.Node.Attr("flow").Expr.Range()), path, diagText(diags))
	}
	name, err := x.String("name")
	if err != nil {
		return cty.NilVal, err
	}
	var f *flow.Flow
	if name != "" {
		f, err = set.Flow(name)
	} else {
		f, err = set.Only()
	}
	if err != nil {
		return cty.NilVal, fmt.Errorf("call %s: %w", path, err)
	}
	pv, err := x.Attr("params")
	if err != nil {
		return cty.NilVal, err
	}
	params := map[string]cty.Value{}
	if !pv.IsNull() {
		if !pv.Type().IsObjectType() && !pv.Type().IsMapType() {
			return cty.NilVal, flow.Errorf(flow.KindEval, "%s: params must be an object", flow.Pos(x.Node.Attr("params").Expr.Range()))
		}
		params = pv.AsValueMap()
	}
	outs, err := x.RunFlow(ctx, f, params)
	if err != nil {
		return cty.NilVal, err
	}
	if len(outs) == 0 {
		return cty.EmptyObjectVal, nil
	}
	return cty.ObjectVal(outs), nil
}

// diagText formats load diagnostics for an error message. Unlike
// hcl.Diagnostics.Error it prints no "<nil>" for a diagnostic without a
// position, such as a call cycle found at run time.
func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s = flow.Pos(*d.Subject) + ": " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
