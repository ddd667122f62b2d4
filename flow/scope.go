package flow

import (
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ScopeKind says how a scope takes part in variable assignment.
type ScopeKind int

const (
	// StepScope belongs to a step: set declares new variables here.
	StepScope ScopeKind = iota
	// Transparent scopes (a loop iteration, a choose branch, a catch body)
	// keep their own step outputs and locals but pass declarations up to the
	// nearest step scope.
	Transparent
	// Boundary scopes (a parallel branch, a fork iteration) are never written
	// across: a set inside of a variable declared outside shadows it.
	Boundary
)

// Scope holds the variables, step outputs and locals visible at one level of
// a running flow. Lookups walk up to the root, so a nested step sees its
// ancestors' variables. All values are cty values, so a scope can be saved
// and restored as data.
type Scope struct {
	parent *Scope
	kind   ScopeKind

	mu     sync.RWMutex
	vars   map[string]cty.Value
	steps  map[string]cty.Value
	locals map[string]cty.Value
}

// NewScope returns a scope under parent (nil for a root).
func NewScope(parent *Scope, kind ScopeKind) *Scope {
	return &Scope{parent: parent, kind: kind}
}

// Parent returns the enclosing scope.
func (s *Scope) Parent() *Scope { return s.parent }

// Kind returns the scope's kind.
func (s *Scope) Kind() ScopeKind { return s.kind }

// Declare sets a variable in this scope.
func (s *Scope) Declare(name string, v cty.Value) {
	s.mu.Lock()
	if s.vars == nil {
		s.vars = map[string]cty.Value{}
	}
	s.vars[name] = v
	s.mu.Unlock()
}

// SetLocal sets a local root variable such as "loop" or "each".
func (s *Scope) SetLocal(name string, v cty.Value) {
	s.mu.Lock()
	if s.locals == nil {
		s.locals = map[string]cty.Value{}
	}
	s.locals[name] = v
	s.mu.Unlock()
}

// RecordStep keeps a completed step's outputs under its name.
func (s *Scope) RecordStep(name string, outputs cty.Value) {
	s.mu.Lock()
	if s.steps == nil {
		s.steps = map[string]cty.Value{}
	}
	s.steps[name] = outputs
	s.mu.Unlock()
}

// Var looks a variable up through the enclosing scopes.
func (s *Scope) Var(name string) (cty.Value, bool) {
	for c := s; c != nil; c = c.parent {
		c.mu.RLock()
		v, ok := c.vars[name]
		c.mu.RUnlock()
		if ok {
			return v, true
		}
	}
	return cty.NilVal, false
}

// StepOutputs looks up the outputs of a completed step by name.
func (s *Scope) StepOutputs(name string) (cty.Value, bool) {
	for c := s; c != nil; c = c.parent {
		c.mu.RLock()
		v, ok := c.steps[name]
		c.mu.RUnlock()
		if ok {
			return v, true
		}
	}
	return cty.NilVal, false
}

// Local looks a local root variable up.
func (s *Scope) Local(name string) (cty.Value, bool) {
	for c := s; c != nil; c = c.parent {
		c.mu.RLock()
		v, ok := c.locals[name]
		c.mu.RUnlock()
		if ok {
			return v, true
		}
	}
	return cty.NilVal, false
}

// Assign implements set: it writes to the nearest scope that declared name.
// The walk stops at a concurrency boundary: a variable declared beyond it is
// shadowed at the boundary. A name declared nowhere is declared in the
// nearest step scope. It returns the scope written to.
func (s *Scope) Assign(name string, v cty.Value) *Scope {
	var declare *Scope
	for c := s; c != nil; c = c.parent {
		c.mu.Lock()
		if _, ok := c.vars[name]; ok {
			c.vars[name] = v
			c.mu.Unlock()
			return c
		}
		c.mu.Unlock()
		if declare == nil && c.kind != Transparent {
			declare = c
		}
		if c.kind == Boundary {
			if c.parent != nil {
				if _, outside := c.parent.Var(name); outside {
					declare = c
				}
			}
			break
		}
	}
	if declare == nil {
		declare = s
	}
	declare.Declare(name, v)
	return declare
}

// Vars returns a copy of the variables declared in this scope alone.
func (s *Scope) Vars() map[string]cty.Value {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]cty.Value, len(s.vars))
	for k, v := range s.vars {
		out[k] = v
	}
	return out
}

// VarNames lists every variable visible from s.
func (s *Scope) VarNames() []string {
	seen := map[string]bool{}
	for c := s; c != nil; c = c.parent {
		c.mu.RLock()
		for k := range c.vars {
			seen[k] = true
		}
		c.mu.RUnlock()
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// evalContext builds the hcl.EvalContext for expr: only the roots and names
// the expression refers to are looked up, so building it costs in the size of
// the expression, not of the scope.
func (r *frame) evalContext(s *Scope, expr hcl.Expression) (*hcl.EvalContext, hcl.Diagnostics) {
	ctx := &hcl.EvalContext{Functions: r.funcs, Variables: map[string]cty.Value{}}
	refs := expr.Variables()
	if len(refs) == 0 {
		return ctx, nil
	}
	var diags hcl.Diagnostics
	vars := map[string]cty.Value{}
	steps := map[string]cty.Value{}
	for _, tr := range refs {
		root := tr.RootName()
		switch root {
		case "param":
			ctx.Variables["param"] = r.paramsVal
		case "flow":
			ctx.Variables["flow"] = r.flowVal
		case "var", "step":
			name, ok := secondName(tr)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference",
					Detail: root + " must be followed by a name, as in " + root + ".NAME", Subject: tr.SourceRange().Ptr()})
				continue
			}
			if root == "var" {
				v, ok := s.Var(name)
				if !ok {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Undefined variable",
						Detail: "var." + name + " is not defined at this point of the run", Subject: tr.SourceRange().Ptr()})
					continue
				}
				vars[name] = v
			} else {
				v, ok := s.StepOutputs(name)
				if !ok {
					v = cty.NullVal(cty.DynamicPseudoType)
				}
				steps[name] = v
			}
		default:
			if v, ok := s.Local(root); ok {
				ctx.Variables[root] = v
			}
		}
	}
	if len(vars) > 0 {
		ctx.Variables["var"] = cty.ObjectVal(vars)
	}
	if len(steps) > 0 {
		ctx.Variables["step"] = cty.ObjectVal(steps)
	}
	return ctx, diags
}

// secondName returns NAME in root.NAME or root["NAME"].
func secondName(tr hcl.Traversal) (string, bool) {
	if len(tr) < 2 {
		return "", false
	}
	switch t := tr[1].(type) {
	case hcl.TraverseAttr:
		return t.Name, true
	case hcl.TraverseIndex:
		if t.Key.Type() == cty.String && t.Key.IsKnown() && !t.Key.IsNull() {
			return t.Key.AsString(), true
		}
	}
	return "", false
}

// Steps returns a copy of the step outputs recorded in this scope alone.
func (s *Scope) Steps() map[string]cty.Value {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]cty.Value, len(s.steps))
	for k, v := range s.steps {
		out[k] = v
	}
	return out
}
