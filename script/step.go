package script

import (
	"context"
	"errors"

	"github.com/dop251/goja"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Step is the script step: JavaScript that sees the flow's values and
// returns the step's outputs.
//
// It is pure in the engine's sense: the sandbox has no effect outside the
// run (no files, network or process), so running it again after a crash
// changes nothing but its own outputs, which are made durable before any
// step with outside effects runs.
var Step = &flow.StepType{
	Name: "script",
	Pure: true,
	Summary: "Runs JavaScript as the body of a function that sees param, vars (the flow's var), step, flow, each, loop and error " +
		"as read-only values; the object it returns becomes the step's outputs. Values keep their types both ways: " +
		"whole numbers stay integers, decimals stay exact, lists, maps and null are kept. The timeout decorator bounds it. " +
		"See docs/javascript.md.",
	Attrs: []flow.Attr{
		{Name: "code", Type: cty.String, Doc: "The body of the function, usually a heredoc (give code or file)."},
		{Name: "file", Type: cty.String, Doc: "A .js file under the flow's directory that holds the body instead."},
	},
	Outputs: []flow.OutputDoc{{Name: "NAME", Type: "any", Doc: "Each property of the object the code returns."}},
	Check: func(n *flow.Node) hcl.Diagnostics {
		return checkCode(n.Flow, n.Attrs, n.Range, kindScript)
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runScript), nil },
}

// scriptSite finds the step's code: from the static checks when it is a
// literal, else as evaluated now.
func scriptSite(x *flow.Exec) (*site, error) {
	f := x.Flow()
	code, err := x.String("code")
	if err != nil {
		return nil, err
	}
	if a := x.Node.Attr("code"); a != nil {
		if s, ok := lookupSite(codeKey(f.Dir, code)); ok {
			return s, nil
		}
		return &site{code: code, origin: attrOrigin(a, code, flowSource(f, a)), files: flowFiles(f)}, nil
	}
	file, err := x.String("file")
	if err != nil {
		return nil, err
	}
	if s, ok := lookupSite(fileKey(f.Dir, file)); ok {
		return s, nil
	}
	s, err := fileSite(flowFiles(f), file)
	if err != nil {
		return nil, flow.Errorf(flow.KindFailed, "%s: %v", flow.Pos(x.Node.Attr("file").Expr.Range()), err)
	}
	return s, nil
}

func runScript(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	s, err := scriptSite(x)
	if err != nil {
		return cty.NilVal, err
	}
	u, serr := compileUnit(kindScript, "", s.code)
	if serr != nil {
		return cty.NilVal, flow.Errorf(flow.KindFailed, "%s: SyntaxError: %s", s.origin.where(serr.line, serr.col), serr.msg)
	}
	r := newRT(&host{main: u, origin: s.origin, files: s.files, mainDir: s.mainDir, logger: x.Logger,
		hasFiles: true, schemas: &record.Schemas{}}, nil)
	vis := x.Visible()
	args := make([]goja.Value, len(scriptRoots))
	for i, name := range scriptRoots {
		if name == "vars" {
			name = "var"
		}
		if v, ok := vis[name]; ok {
			args[i] = r.ctyToJS(v, true)
		} else {
			args[i] = goja.Undefined()
		}
	}
	fnv, err := r.vm.RunProgram(u.prog)
	if err != nil {
		return cty.NilVal, &flow.Error{Kind: flow.KindFailed, Err: r.jsError(err, "")}
	}
	fn, _ := goja.AssertFunction(fnv)

	// A cancelled context (the timeout decorator, a failing sibling) or a
	// stop interrupts the code.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			r.vm.Interrupt(ctx.Err())
		case <-x.Stopping():
			r.vm.Interrupt(flow.ErrStopped)
		case <-done:
		}
	}()
	res, err := fn(goja.Undefined(), args...)
	if err != nil {
		jerr := r.jsError(err, "")
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			if cause, ok := ie.Value().(error); ok {
				return cty.NilVal, &flow.Error{Kind: flow.KindOf(cause), Msg: "script interrupted", Err: jerr}
			}
		}
		return cty.NilVal, &flow.Error{Kind: flow.KindFailed, Err: jerr}
	}
	if res == nil || goja.IsUndefined(res) || goja.IsNull(res) {
		return cty.EmptyObjectVal, nil
	}
	if o, ok := res.(*goja.Object); !ok || (o.ExportType() != typeMap && o.ExportType() != typeItem) || o.ClassName() != "Object" {
		return cty.NilVal, flow.Errorf(flow.KindFailed, "%s: a script returns an object (its outputs) or nothing, not a %s",
			s.origin.where(1, 1), typeName(res))
	}
	out, err := r.jsToCty(res)
	if err != nil {
		return cty.NilVal, flow.Errorf(flow.KindFailed, "%s: the returned object: %v", s.origin.where(1, 1), err)
	}
	return out, nil
}
