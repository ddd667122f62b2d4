package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Error kinds, visible to flows as error.kind in catch blocks and retry's if.
const (
	KindFailed    = "failed"    // a step reported a failure
	KindFail      = "fail"      // a fail step
	KindTimeout   = "timeout"   // an attempt ran out of time
	KindCancelled = "cancelled" // the run was stopped or aborted
	KindEval      = "eval"      // an expression could not be evaluated
	KindExit      = "exit"      // a command exited with a code not allowed
	KindUsage     = "usage"     // the caller's mistake: bad params, unknown flow
)

// Error is a failure with a kind and the path of the step where it happened.
type Error struct {
	Kind string
	Step string // the path of the failing step; empty when not in a step
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Step != "" {
		b.WriteString(e.Step)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Message is the error text without the step path.
func (e *Error) Message() string {
	if e.Err == nil {
		return e.Msg
	}
	if e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg + ": " + e.Err.Error()
}

// Errorf returns an *Error of the given kind. Steps return it to choose the
// kind a catch block sees.
func Errorf(kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func errorf(kind, format string, args ...any) error { return Errorf(kind, format, args...) }

// ErrSkipped is returned by a runner when the step did not run (its if was
// false). The step is recorded as skipped and its outputs are null.
var ErrSkipped = errors.New("step skipped")

// ErrStopped is the cause of a run stopped at a step boundary.
var ErrStopped = errors.New("run stopped")

// KindOf returns the kind of err: the kind of the innermost *Error, or
// cancelled/timeout for context errors, or failed.
func KindOf(err error) string {
	var fe *Error
	if errors.As(err, &fe) && fe.Kind != "" {
		return fe.Kind
	}
	switch {
	case errors.Is(err, ErrStopped), errors.Is(err, context.Canceled):
		return KindCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	}
	return KindFailed
}

// StepOf returns the path of the step where err happened, if known.
func StepOf(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Step
	}
	return ""
}

// MessageOf returns err's text without the step path.
func MessageOf(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Message()
	}
	return err.Error()
}

// stamp attaches the step path to err unless it already carries one.
func stamp(err error, path string) error {
	var fe *Error
	if errors.As(err, &fe) {
		if fe.Step == "" {
			fe.Step = path
		}
		return err
	}
	return &Error{Kind: KindOf(err), Step: path, Err: err}
}

// diagError turns evaluation diagnostics into an error of kind eval.
func diagError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + d.Detail
		}
		if d.Subject != nil {
			m = Pos(*d.Subject) + ": " + m
		}
		msgs = append(msgs, m)
	}
	return &Error{Kind: KindEval, Msg: strings.Join(msgs, "; ")}
}

// ErrorValue is the value of error.* in catch blocks and retry's if:
// message, step (the failing step's path) and kind.
func ErrorValue(err error) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"message": cty.StringVal(MessageOf(err)),
		"step":    cty.StringVal(StepOf(err)),
		"kind":    cty.StringVal(KindOf(err)),
	})
}

type ignoreStopKey struct{}

// IgnoreStop returns a context under which steps start even though a stop
// was requested: finally blocks run their cleanup this way. Cancelling the
// context still ends them.
func IgnoreStop(ctx context.Context) context.Context {
	return context.WithValue(ctx, ignoreStopKey{}, true)
}

func ignoringStop(ctx context.Context) bool { return ctx.Value(ignoreStopKey{}) != nil }
