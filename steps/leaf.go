package steps

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// Set assigns variables.
var Set = &flow.StepType{
	Name:    "set",
	Pure:    true,
	Summary: "Assigns variables: each goes to the nearest enclosing scope that declared it (vars), or is declared in the enclosing step's scope. It never writes across a parallel branch or fork iteration.",
	Attrs: []flow.Attr{
		{Name: "assign", Type: cty.DynamicPseudoType, Required: true,
			Doc: "An object { NAME = EXPR, ... }; every value is evaluated before any is assigned."},
	},
	Outputs:  []flow.OutputDoc{{Name: "NAME", Type: "any", Doc: "Each assigned value, by name."}},
	Declares: assignNames,
	Check: func(n *flow.Node) hcl.Diagnostics {
		a := n.Attr("assign")
		if a == nil {
			return nil
		}
		if _, diags := hcl.ExprMap(a.Expr); diags.HasErrors() {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid assign",
				Detail: "assign must be an object of the form { name = value, ... }.", Subject: a.Expr.Range().Ptr()}}
		}
		pairs, _ := hcl.ExprMap(a.Expr)
		var diags hcl.Diagnostics
		for _, p := range pairs {
			if !hclsyntax.ValidIdentifier(hcl.ExprAsKeyword(p.Key)) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable name",
					Detail: "The keys of assign are variable names, such as total or file_count.", Subject: p.Key.Range().Ptr()})
			}
		}
		return diags
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
		return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			pairs, _ := hcl.ExprMap(n.Attr("assign").Expr)
			vals := map[string]cty.Value{}
			for _, p := range pairs {
				v, err := x.Eval(nil, p.Value, cty.DynamicPseudoType)
				if err != nil {
					return cty.NilVal, err
				}
				vals[hcl.ExprAsKeyword(p.Key)] = v
			}
			for _, p := range pairs {
				k := hcl.ExprAsKeyword(p.Key)
				x.Assign(k, vals[k])
			}
			if len(vals) == 0 {
				return cty.EmptyObjectVal, nil
			}
			return cty.ObjectVal(vals), nil
		}), nil
	},
}

func assignNames(n *flow.Node) []string {
	a := n.Attr("assign")
	if a == nil {
		return nil
	}
	pairs, diags := hcl.ExprMap(a.Expr)
	if diags.HasErrors() {
		return nil
	}
	var out []string
	for _, p := range pairs {
		if k := hcl.ExprAsKeyword(p.Key); k != "" {
			out = append(out, k)
		}
	}
	return out
}

var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// Log writes a message to the run's log.
var Log = &flow.StepType{
	Name:    "log",
	Pure:    true,
	Summary: "Writes a message to the run's log.",
	Attrs: []flow.Attr{
		{Name: "message", Type: cty.String, Required: true, Doc: "The text to log."},
		{Name: "level", Type: cty.String, Default: cty.StringVal("info"), OneOf: []string{"debug", "info", "warn", "error"},
			Doc: "debug, info, warn or error."},
	},
	Outputs: []flow.OutputDoc{{Name: "message", Type: "string", Doc: "The message logged."}},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
		return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			msg, err := x.String("message")
			if err != nil {
				return cty.NilVal, err
			}
			lv, err := x.String("level")
			if err != nil {
				return cty.NilVal, err
			}
			level, ok := levels[lv]
			if !ok {
				return cty.NilVal, flow.Errorf(flow.KindEval, "%s: level %q is not one of debug, info, warn, error", n.Attr("level").Expr.Range(), lv)
			}
			x.Emit(flow.Event{Kind: flow.StepLog, Level: level, Message: msg})
			return cty.ObjectVal(map[string]cty.Value{"message": cty.StringVal(msg)}), nil
		}), nil
	},
}

// Sleep waits.
var Sleep = &flow.StepType{
	Name:    "sleep",
	Pure:    true,
	Summary: "Waits for a duration. A stop request or cancellation ends the wait (the step then counts as not done).",
	Attrs: []flow.Attr{
		{Name: "duration", Type: cty.String, Required: true, Duration: true, Doc: "How long, as a Go duration (\"500ms\", \"2m\")."},
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
		return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			d, err := x.Duration("duration")
			if err != nil {
				return cty.NilVal, err
			}
			return cty.EmptyObjectVal, Wait(ctx, x, d)
		}), nil
	},
}

// Wait sleeps for d, returning early with an error when ctx ends or a stop
// is requested.
func Wait(ctx context.Context, x *flow.Exec, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-x.Stopping():
		return &flow.Error{Kind: flow.KindCancelled, Msg: "interrupted", Err: flow.ErrStopped}
	}
}

// Fail fails with a message.
var Fail = &flow.StepType{
	Name:    "fail",
	Pure:    true,
	Summary: "Fails with a message (error.kind is \"fail\"). Inside catch, it re-raises.",
	Attrs: []flow.Attr{
		{Name: "message", Type: cty.String, Required: true, Doc: "The failure message."},
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
		return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			msg, err := x.String("message")
			if err != nil {
				return cty.NilVal, err
			}
			return cty.NilVal, &flow.Error{Kind: flow.KindFail, Msg: msg}
		}), nil
	},
}
