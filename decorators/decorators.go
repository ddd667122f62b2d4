// Package decorators holds the decorators every step can carry: if,
// timeout, retry, catch and finally. Importing the package registers them
// into flow.DefaultRegistry; Register adds them to another registry.
//
// They wrap a step in this order, outermost first: if, finally, catch,
// retry, timeout. So if is decided once; retry repeats the step with a fresh
// timeout per attempt; catch sees the error left when retries are
// exhausted; finally runs last, whatever happened.
package decorators

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

func init() { Register(flow.DefaultRegistry) }

// Types returns the standard decorators.
func Types() []*flow.DecoratorType { return []*flow.DecoratorType{If, Finally, Catch, Retry, Timeout} }

// Register adds the standard decorators to reg.
func Register(reg *flow.Registry) {
	for _, t := range Types() {
		reg.RegisterDecorator(t)
	}
}

// If skips a step when its condition is false.
var If = &flow.DecoratorType{
	Name: "if", Order: 10,
	Summary: "Runs the step only when the condition is true; otherwise the step is recorded as skipped and its outputs are null.",
	Attr:    flow.Attr{Name: "if", Type: cty.Bool, Doc: "Evaluated once, in the scope around the step."},
	New: func(d *flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) {
		return flow.DecoratorFunc(func(next flow.Runner) flow.Runner {
			return func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
				if x.Resumed() {
					// An earlier execution began this step, so its condition
					// held then: finish it rather than decide again.
					return next(ctx, x)
				}
				v, err := x.Eval(x.Outer, d.Attr.Expr, cty.Bool)
				if err != nil {
					return cty.NilVal, err
				}
				if v.IsNull() {
					return cty.NilVal, flow.Errorf(flow.KindEval, "%s: if is null", flow.Pos(d.Attr.Expr.Range()))
				}
				if !v.True() {
					return cty.NilVal, flow.ErrSkipped
				}
				return next(ctx, x)
			}
		}), nil
	},
}

// Timeout bounds each attempt of a step.
var Timeout = &flow.DecoratorType{
	Name: "timeout", Order: 50,
	Summary: "Fails an attempt of the step (error.kind \"timeout\") that runs longer than the duration; with retry, each attempt has its own timeout.",
	Attr:    flow.Attr{Name: "timeout", Type: cty.String, Duration: true, Doc: "A Go duration such as \"30s\"."},
	New: func(d *flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) {
		return flow.DecoratorFunc(func(next flow.Runner) flow.Runner {
			return func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
				v, err := x.Eval(x.Outer, d.Attr.Expr, cty.String)
				if err != nil {
					return cty.NilVal, err
				}
				limit, err := flow.ToDuration(v, d.Attr)
				if err != nil {
					return cty.NilVal, err
				}
				tctx, cancel := context.WithTimeout(ctx, limit)
				defer cancel()
				out, err := next(tctx, x)
				if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
					return cty.NilVal, &flow.Error{Kind: flow.KindTimeout, Msg: fmt.Sprintf("timed out after %s", limit)}
				}
				return out, err
			}
		}), nil
	},
}

var retryAttrs = []flow.Attr{
	{Name: "max_attempts", Type: cty.Number, Default: cty.NumberIntVal(3), Doc: "Attempts in all, the first included."},
	{Name: "strategy", Type: cty.String, Default: cty.StringVal("exponential"), OneOf: []string{"constant", "linear", "exponential"},
		Doc: "How the wait grows: constant (min_interval), linear (min_interval × attempt), exponential (min_interval × 2^(attempt-1))."},
	{Name: "min_interval", Type: cty.String, Default: cty.StringVal("1s"), Duration: true, Doc: "The first wait."},
	{Name: "max_interval", Type: cty.String, Default: cty.StringVal("30s"), Duration: true, Doc: "The longest wait."},
	{Name: "jitter", Type: cty.Number, Default: cty.NumberIntVal(0),
		Doc: "A fraction from 0 to 1: each wait is shortened by a random part of up to this share, so that many runs do not retry in step."},
	{Name: "if", Type: cty.Bool, Locals: []string{"error"},
		Doc: "Retry only when this is true; error.message, error.kind and error.step describe the failure."},
}

// Retry runs a failing step again.
var Retry = &flow.DecoratorType{
	Name: "retry", Order: 40, Block: true,
	Summary: "Runs the step again when it fails, waiting between attempts. A stop request or cancellation is never retried.",
	Attrs:   retryAttrs,
	New:     newRetry,
}

type retryPolicy struct {
	attempts int
	strategy string
	min, max time.Duration
	jitter   float64
}

func (p retryPolicy) delay(attempt int) time.Duration {
	f := float64(p.min)
	switch p.strategy {
	case "linear":
		f *= float64(attempt)
	case "exponential":
		f *= math.Pow(2, float64(attempt-1))
	}
	// Cap in floating point: converting an out-of-range float to a
	// Duration is not defined.
	d := p.max
	if f < float64(p.max) {
		d = time.Duration(f)
	}
	if p.jitter > 0 {
		d -= time.Duration(rand.Float64() * p.jitter * float64(d))
	}
	return d
}

func newRetry(d *flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) {
	return flow.DecoratorFunc(func(next flow.Runner) flow.Runner {
		return func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			p, err := evalPolicy(x, d)
			if err != nil {
				return cty.NilVal, err
			}
			for attempt := 1; ; attempt++ {
				x.Attempt = attempt
				out, err := next(ctx, x)
				if err == nil || errors.Is(err, flow.ErrSkipped) {
					return out, err
				}
				if attempt >= p.attempts || flow.KindOf(err) == flow.KindCancelled || ctx.Err() != nil {
					return cty.NilVal, err
				}
				if a := d.Attrs["if"]; a != nil {
					e := err
					if flow.StepOf(e) == "" { // a leaf's own error: name the step, as catch does
						e = &flow.Error{Kind: flow.KindOf(err), Step: x.Path, Err: err}
					}
					s := flow.NewScope(x.Outer, flow.Transparent)
					s.SetLocal("error", flow.ErrorValue(e))
					ok, evalErr := x.Eval(s, a.Expr, cty.Bool)
					if evalErr != nil {
						return cty.NilVal, evalErr
					}
					if ok.IsNull() || !ok.True() {
						return cty.NilVal, err
					}
				}
				wait := p.delay(attempt)
				x.Emit(flow.Event{Kind: flow.StepRetrying, Err: err, Delay: wait, Attempt: attempt})
				if werr := sleep(ctx, x, wait); werr != nil {
					return cty.NilVal, werr
				}
			}
		}
	}), nil
}

func evalPolicy(x *flow.Exec, d *flow.DecoratorConfig) (retryPolicy, error) {
	var p retryPolicy
	get := func(name string) (cty.Value, error) { return x.AttrIn(x.Outer, d.Attrs, retryAttrs, name) }
	v, err := get("max_attempts")
	if err != nil {
		return p, err
	}
	if p.attempts, err = flow.ToInt(v, d.Attrs["max_attempts"]); err != nil {
		return p, err
	}
	if p.attempts < 1 {
		return p, flow.Errorf(flow.KindEval, "retry max_attempts must be at least 1, not %d", p.attempts)
	}
	if v, err = get("strategy"); err != nil {
		return p, err
	}
	p.strategy = v.AsString()
	if err := flow.CheckValue(v, &retryAttrs[1]); err != nil {
		return p, flow.Errorf(flow.KindEval, "retry: %s", err)
	}
	for _, f := range []struct {
		name string
		dst  *time.Duration
	}{{"min_interval", &p.min}, {"max_interval", &p.max}} {
		v, err := get(f.name)
		if err != nil {
			return p, err
		}
		if *f.dst, err = flow.ToDuration(v, d.Attrs[f.name]); err != nil {
			return p, err
		}
	}
	if v, err = get("jitter"); err != nil {
		return p, err
	}
	p.jitter, _ = v.AsBigFloat().Float64()
	if p.jitter < 0 || p.jitter > 1 {
		return p, flow.Errorf(flow.KindEval, "retry jitter must be between 0 and 1, not %v", p.jitter)
	}
	return p, nil
}

// sleep waits between attempts, ending early on cancellation or a stop.
func sleep(ctx context.Context, x *flow.Exec, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return &flow.Error{Kind: flow.KindCancelled, Msg: "retry wait interrupted", Err: ctx.Err()}
	case <-x.Stopping():
		return &flow.Error{Kind: flow.KindCancelled, Msg: "retry wait interrupted", Err: flow.ErrStopped}
	}
}

// Catch handles a step's failure.
var Catch = &flow.DecoratorType{
	Name: "catch", Order: 30, Block: true, Body: true, Locals: []string{"error"},
	Summary: "Runs its steps when the step fails (after any retries), with error.message, error.kind and error.step in scope. The step then counts as completed (outputs null) unless a step inside fails, such as a fail step re-raising. Stops and cancellations are not caught.",
	New: func(d *flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) {
		return flow.DecoratorFunc(func(next flow.Runner) flow.Runner {
			return func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
				out, err := next(ctx, x)
				if err == nil || errors.Is(err, flow.ErrSkipped) || flow.KindOf(err) == flow.KindCancelled || ctx.Err() != nil {
					return out, err
				}
				if flow.StepOf(err) == "" {
					err = &flow.Error{Kind: flow.KindOf(err), Step: x.Path, Err: err}
				}
				s := x.BodyScope()
				s.SetLocal("error", flow.ErrorValue(err))
				if cerr := x.RunSeq(ctx, d.Body, s, nil, x.Path+"/@catch"); cerr != nil {
					return cty.NilVal, cerr
				}
				x.Emit(flow.Event{Kind: flow.StepRecovered, Err: err})
				return cty.NullVal(cty.DynamicPseudoType), nil
			}
		}), nil
	},
}

// FinallyGrace bounds how long a finally block may run after the step
// around it was cancelled.
var FinallyGrace = 30 * time.Second

// Finally runs cleanup steps whatever happened.
var Finally = &flow.DecoratorType{
	Name: "finally", Order: 20, Block: true, Body: true,
	Summary: "Runs its steps after the step (and any catch), whether it succeeded, failed, was stopped or was cancelled by a timeout around it or a failing parallel sibling (its steps then get 30s to finish). Only an abort of the whole run skips it. If they fail, the step fails; if the step had failed already, that first error is the one reported.",
	New: func(d *flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) {
		return flow.DecoratorFunc(func(next flow.Runner) flow.Runner {
			return func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
				out, err := next(ctx, x)
				if x.Aborted() {
					return out, err // the user asked to end now: nothing more starts
				}
				fctx := flow.IgnoreStop(ctx)
				if ctx.Err() != nil {
					// Cancelled around us: clean up anyway, within a bound.
					var cancel context.CancelFunc
					fctx, cancel = context.WithTimeout(context.WithoutCancel(fctx), FinallyGrace)
					defer cancel()
				}
				s := x.BodyScope()
				ferr := x.RunSeq(fctx, d.Body, s, nil, x.Path+"/@finally")
				if err != nil {
					return out, err
				}
				if ferr != nil {
					return cty.NilVal, ferr
				}
				return out, nil
			}
		}), nil
	},
}
