package script

import (
	"fmt"
	"strings"

	"github.com/dop251/goja"
)

// Error is a failure of JavaScript code: what it threw, where in the flow
// file (or .js file) the failing line is, the JS stack, and for processors
// and filters the record being processed.
type Error struct {
	// Message is what was thrown, such as "TypeError: Cannot read property
	// 'x' of undefined", or why the call ended (a timeout).
	Message string
	// Where is file:line:col of the failing line; empty when unknown.
	Where string
	// Stack lists the JS frames, innermost first, as "name (file:line:col)".
	Stack []string
	// Record is the position of the record being processed in its input
	// (file:line), for processors and filters.
	Record string
	// Err is the cause when the code did not throw: a *TimeoutError or
	// the context's error.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if len(e.Stack) > 1 {
		b.WriteString(" (stack: ")
		b.WriteString(strings.Join(e.Stack, " < "))
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxFrames bounds the frames an Error keeps.
const maxFrames = 12

// jsError turns what a call into JavaScript returned into an *Error with
// positions in the files the code was written in. Other errors are
// returned as they are.
func (r *rt) jsError(err error, where string) error {
	if err == nil {
		return nil
	}
	e := &Error{Record: where}
	var frames []goja.StackFrame
	switch x := err.(type) {
	case *goja.InterruptedError:
		frames = x.Stack()
		switch v := x.Value().(type) {
		case error:
			e.Err, e.Message = v, v.Error()
		default:
			e.Message = fmt.Sprint(v)
		}
	case *goja.StackOverflowError:
		frames = x.Stack()
		e.Message = "RangeError: Maximum call stack size exceeded"
	case *goja.Exception:
		frames = x.Stack()
		e.Message = r.thrown(x.Value())
	default:
		return err
	}
	for i := range frames {
		w := r.frameWhere(&frames[i])
		if w == "" {
			continue
		}
		if e.Where == "" {
			e.Where = w
		}
		if len(e.Stack) < maxFrames {
			e.Stack = append(e.Stack, frames[i].FuncName()+" ("+w+")")
		}
	}
	return e
}

// thrown renders a thrown value: errors as "Name: message", other values
// as console shows them.
func (r *rt) thrown(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok && o.ClassName() == "Error" {
		return o.String()
	}
	return "uncaught " + r.show(v)
}

// frameWhere maps a stack frame to file:line:col in the file the code was
// written in: the flow file for inline code, the .js file for modules and
// code given by file.
func (r *rt) frameWhere(f *goja.StackFrame) string {
	name := f.SrcName()
	if name == "<native>" {
		return ""
	}
	p := f.Position()
	switch {
	case r.h != nil && r.h.main != nil && name == r.h.main.name:
		line, ok := r.h.main.codeLine(p.Line)
		if !ok {
			return ""
		}
		if at, ok := r.h.main.braceAt[[2]int{line, p.Column}]; ok {
			return r.h.origin.where(at[0], at[1]) // a rewritten literal's call
		}
		return r.h.origin.where(line, p.Column)
	case strings.HasSuffix(name, ".js"):
		return fmt.Sprintf("%s:%d:%d", name, p.Line-1, p.Column) // the module wrapper's line
	case name == "":
		return fmt.Sprintf("<eval>:%d:%d", p.Line, p.Column)
	}
	return fmt.Sprintf("%s:%d:%d", name, p.Line, p.Column)
}
