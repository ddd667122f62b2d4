package flow

import (
	"io/fs"

	"github.com/zclconf/go-cty/cty"
)

// Visible returns every root value an expression of the step could refer
// to, as cty values: "param", "flow", "var" (an object of the variables
// visible from the step, the nearest declaration winning), "step" (the
// outputs of the steps completed so far and visible from here) and the
// locals in scope ("each", "loop", "error"...). It is what embedded
// languages (the script step) hand to their code.
func (x *Exec) Visible() map[string]cty.Value {
	s := x.Scope
	if s == nil {
		s = x.Outer
	}
	out := map[string]cty.Value{
		"param": x.frame.paramsVal,
		"flow":  x.frame.flowVal,
	}
	vars := map[string]cty.Value{}
	steps := map[string]cty.Value{}
	for c := s; c != nil; c = c.parent {
		c.mu.RLock()
		for k, v := range c.vars {
			if _, seen := vars[k]; !seen {
				vars[k] = v
			}
		}
		for k, v := range c.steps {
			if _, seen := steps[k]; !seen {
				steps[k] = v
			}
		}
		for k, v := range c.locals {
			if _, seen := out[k]; !seen {
				out[k] = v
			}
		}
		c.mu.RUnlock()
	}
	out["var"] = objectOrEmpty(vars)
	out["step"] = objectOrEmpty(steps)
	return out
}

// FS returns the file system the loader reads, or nil when it reads the
// operating system's files.
func (l *Loader) FS() fs.FS { return l.fsys }
