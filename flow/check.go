package flow

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// check runs the static checks of a decoded flow and builds its steps and
// decorators. Everything it reports is found before anything runs.
func check(f *Flow) hcl.Diagnostics {
	c := &checker{f: f, funcs: f.funcs(), declared: map[string]bool{}}
	walk(f.Root, func(n *Node) {
		for _, v := range n.VarNames {
			c.declared[v] = true
		}
		if n.Type.Declares != nil {
			for _, v := range n.Type.Declares(n) {
				c.declared[v] = true
			}
		}
	})
	walk(f.Root, c.node)
	// Flow-level blocks are evaluated before any step runs: they see
	// params and flow.*, not vars or steps.
	var flowBlocks func(bs []*Block)
	flowBlocks = func(bs []*Block) {
		for _, b := range bs {
			for _, a := range sortedAttrs(b.Attrs) {
				spec := findAttr(b.Specs, a.Name)
				rc := refCtx{node: f.Root}
				if spec != nil {
					rc.locals = spec.Locals
				}
				c.attr(a, spec, rc)
			}
			flowBlocks(b.Blocks)
		}
	}
	flowBlocks(f.Blocks)
	if !c.diags.HasErrors() {
		walk(f.Root, c.build)
	}
	sortDiags(c.diags)
	return c.diags
}

// sortDiags orders diagnostics by file and position, so that output is
// stable and reads top to bottom.
func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a != nil && b == nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

// sortedAttrs returns attributes in source order.
func sortedAttrs(m map[string]*hcl.Attribute) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out
}

// walk visits n and every node below it: body, branches, decorator bodies.
func walk(n *Node, fn func(*Node)) {
	fn(n)
	for _, s := range n.seqs() {
		for _, c := range s.Nodes {
			walk(c, fn)
		}
	}
}

// seqs lists every sequence of child steps a node holds.
func (n *Node) seqs() []*Seq {
	var out []*Seq
	if n.Body != nil {
		out = append(out, n.Body)
	}
	for _, b := range n.Branches {
		out = append(out, b.Body)
	}
	for _, d := range n.Decorators {
		if d.Body != nil {
			out = append(out, d.Body)
		}
	}
	return out
}

type checker struct {
	f        *Flow
	funcs    map[string]function.Function
	declared map[string]bool // every variable declared anywhere in the flow
	diags    hcl.Diagnostics
}

func (c *checker) add(d *hcl.Diagnostic) { c.diags = append(c.diags, d) }

// refCtx says where an expression is evaluated.
type refCtx struct {
	node     *Node
	own      bool     // the node's own vars are visible
	children bool     // the node's children have run
	locals   []string // extra local roots
}

func (c *checker) node(n *Node) {
	// Unique names among the children of one step (its body and branches
	// share a namespace, so paths are unambiguous).
	seen := map[string]*Node{}
	for _, s := range n.seqs() {
		if s.Label != "" && !n.Type.hasBranch(s.Label) {
			continue // catch and finally bodies have their own path segment
		}
		for _, ch := range s.Nodes {
			if prev := seen[ch.Name]; prev != nil {
				c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate step name",
					Detail:  fmt.Sprintf("A step named %q is already declared at %s; names must be unique among siblings.", ch.Name, Pos(prev.Range)),
					Subject: ch.Range.Ptr()})
				continue
			}
			seen[ch.Name] = ch
		}
	}
	for _, d := range n.Decorators {
		if d.Body != nil {
			names := map[string]*Node{}
			for _, ch := range d.Body.Nodes {
				if prev := names[ch.Name]; prev != nil {
					c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate step name",
						Detail:  fmt.Sprintf("A step named %q is already declared at %s; names must be unique among siblings.", ch.Name, Pos(prev.Range)),
						Subject: ch.Range.Ptr()})
				}
				names[ch.Name] = ch
			}
		}
	}

	if n.Vars != nil {
		c.expr(n.Vars.Expr, refCtx{node: n})
	}
	for _, a := range sortedAttrs(n.Attrs) {
		spec := n.Type.attr(a.Name)
		c.attr(a, spec, refCtx{node: n, own: true, children: spec.Scope == AfterChildren, locals: spec.Locals})
	}
	for _, b := range n.Branches {
		bt := branchType(n.Type, b.Type)
		for _, a := range sortedAttrs(b.Attrs) {
			spec := findAttr(bt.Attrs, a.Name)
			c.attr(a, spec, refCtx{node: n, own: true, children: spec.Scope == AfterChildren, locals: spec.Locals})
		}
	}
	for _, d := range n.Decorators {
		if d.Attr != nil {
			spec := d.Type.Attr
			c.attr(d.Attr, &spec, refCtx{node: n, locals: spec.Locals})
		}
		for _, a := range sortedAttrs(d.Attrs) {
			spec := findAttr(d.Type.Attrs, a.Name)
			c.attr(a, spec, refCtx{node: n, locals: spec.Locals})
		}
	}
	for _, o := range n.Outputs {
		c.expr(o.Value, refCtx{node: n, own: true, children: true})
	}
	var blocks func(bs []*Block)
	blocks = func(bs []*Block) {
		for _, b := range bs {
			for _, a := range sortedAttrs(b.Attrs) {
				spec := findAttr(b.Specs, a.Name)
				rc := refCtx{node: n, own: true}
				if spec != nil {
					rc.locals = spec.Locals
				}
				c.attr(a, spec, rc)
			}
			blocks(b.Blocks)
		}
	}
	blocks(n.Blocks)
	if n.Type.Check != nil {
		c.diags = append(c.diags, n.Type.Check(n)...)
	}
}

func (t *StepType) hasBranch(name string) bool { return branchType(t, name) != nil }

// build makes the run-time step and decorators of n.
func (c *checker) build(n *Node) {
	s, diags := n.Type.New(n)
	c.diags = append(c.diags, diags...)
	n.Step = s
	for _, d := range n.Decorators {
		if d.Claimed {
			continue
		}
		impl, diags := d.Type.New(d)
		c.diags = append(c.diags, diags...)
		d.impl = impl
	}
}

// attr checks one attribute: its references, and its value when it is a
// constant (type, duration syntax, allowed values).
func (c *checker) attr(a *hcl.Attribute, spec *Attr, rc refCtx) {
	if !c.expr(a.Expr, rc) || spec == nil || len(a.Expr.Variables()) > 0 {
		return
	}
	v, diags := a.Expr.Value(&hcl.EvalContext{Functions: c.funcs})
	if diags.HasErrors() {
		c.diags = append(c.diags, diags...)
		return
	}
	if !v.IsWhollyKnown() || v.IsNull() {
		if v.IsNull() && spec.Required {
			c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing value",
				Detail: fmt.Sprintf("The argument %q is required and cannot be null.", a.Name), Subject: a.Expr.Range().Ptr()})
		}
		return
	}
	if err := CheckValue(v, spec); err != nil {
		c.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + a.Name,
			Detail: err.Error(), Subject: a.Expr.Range().Ptr()})
	}
}

// CheckValue reports whether v is acceptable for the attribute spec: its
// type, duration syntax and allowed values.
func CheckValue(v cty.Value, spec *Attr) error {
	if spec.Type != cty.NilType && spec.Type != cty.DynamicPseudoType {
		cv, err := convert.Convert(v, spec.Type)
		if err != nil {
			return fmt.Errorf("%s expects %s: %s", spec.Name, spec.Type.FriendlyName(), err)
		}
		v = cv
	}
	if spec.Duration && v.Type() == cty.String {
		if _, err := time.ParseDuration(v.AsString()); err != nil {
			return fmt.Errorf("%q is not a duration; use Go syntax such as \"500ms\", \"30s\" or \"1h30m\"", v.AsString())
		}
	}
	if len(spec.OneOf) > 0 && v.Type() == cty.String && !slices.Contains(spec.OneOf, v.AsString()) {
		return fmt.Errorf("%q is not one of %s", v.AsString(), strings.Join(quoteAll(spec.OneOf), ", "))
	}
	return nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// expr checks the function calls and references of an expression; it
// reports whether it found no problem.
func (c *checker) expr(e hcl.Expression, rc refCtx) bool {
	ok := true
	if se, isSyntax := e.(hclsyntax.Expression); isSyntax {
		hclsyntax.VisitAll(se, func(node hclsyntax.Node) hcl.Diagnostics {
			if call, isCall := node.(*hclsyntax.FunctionCallExpr); isCall {
				if _, known := c.funcs[call.Name]; !known {
					ok = false
					d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Call to unknown function",
						Detail: fmt.Sprintf("There is no function named %q.", call.Name), Subject: call.NameRange.Ptr()}
					if s := suggest(call.Name, mapKeys(c.funcs)); s != "" {
						d.Detail += fmt.Sprintf(" Did you mean %q?", s)
					}
					c.add(d)
				}
			}
			return nil
		})
	}
	for _, tr := range e.Variables() {
		if d := c.ref(tr, rc); d != nil {
			ok = false
			c.add(d)
		}
	}
	return ok
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// localsAt lists the local roots visible in rc: those the enclosing steps
// and decorator bodies define, and the attribute's own.
func (c *checker) localsAt(rc refCtx) map[string]bool {
	out := map[string]bool{}
	for _, l := range rc.locals {
		out[l] = true
	}
	if rc.children {
		for _, l := range rc.node.Type.Locals {
			out[l] = true
		}
	}
	for n := rc.node; n.In != nil; n = n.In.Owner {
		owner := n.In.Owner
		if n.In.Label != "" && !owner.Type.hasBranch(n.In.Label) {
			if dt := c.f.registry.Decorator(n.In.Label); dt != nil {
				for _, l := range dt.Locals {
					out[l] = true
				}
			}
			continue
		}
		for _, l := range owner.Type.Locals {
			out[l] = true
		}
	}
	return out
}

func (c *checker) ref(tr hcl.Traversal, rc refCtx) *hcl.Diagnostic {
	root := tr.RootName()
	rng := tr.SourceRange().Ptr()
	name, hasName := secondName(tr)
	switch root {
	case "param":
		if !hasName {
			return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference", Detail: "Use param.NAME.", Subject: rng}
		}
		if c.f.Param(name) == nil {
			return unknown("param", name, c.paramNames(), rng)
		}
	case "var":
		if !hasName {
			return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference", Detail: "Use var.NAME.", Subject: rng}
		}
		if !c.declared[name] {
			return unknown("var", name, mapKeys(c.declared), rng)
		}
	case "flow":
		if hasName && !slices.Contains([]string{"name", "execution_id", "file", "dir"}, name) {
			return unknown("flow", name, []string{"dir", "execution_id", "file", "name"}, rng)
		}
	case "step":
		if !hasName {
			return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference", Detail: "Use step.NAME.", Subject: rng}
		}
		return c.stepRef(name, rc, rng)
	default:
		if c.localsAt(rc)[root] {
			return nil
		}
		for _, st := range c.f.registry.StepTypes() {
			if slices.Contains(st.Locals, root) {
				return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Variable not available here",
					Detail:  fmt.Sprintf("%s.* is only defined inside a %s step.", root, st.Name),
					Subject: rng}
			}
		}
		for _, dt := range c.f.registry.DecoratorTypes() {
			if slices.Contains(dt.Locals, root) || (dt.Block && attrsHaveLocal(dt.Attrs, root)) {
				return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Variable not available here",
					Detail:  fmt.Sprintf("%s.* is only defined inside a %s block.", root, dt.Name),
					Subject: rng}
			}
		}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown variable",
			Detail:  fmt.Sprintf("There is no variable named %q. Expressions can refer to param.*, var.*, step.*, flow.*, and where they apply each.*, loop.* and error.*.", root),
			Subject: rng}
	}
	return nil
}

func attrsHaveLocal(attrs []Attr, l string) bool {
	for _, a := range attrs {
		if slices.Contains(a.Locals, l) {
			return true
		}
	}
	return false
}

func (c *checker) paramNames() []string {
	var out []string
	for _, p := range c.f.Params {
		out = append(out, p.Name)
	}
	return out
}

func unknown(kind, name string, have []string, rng *hcl.Range) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared " + kind,
		Detail: fmt.Sprintf("No %s named %q is declared.", kind, name), Subject: rng}
	if s := suggest(name, have); s != "" {
		d.Detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return d
}

func suggest(name string, have []string) string {
	best, bestD := "", 3
	for _, h := range have {
		if d := levenshtein.Distance(name, h, nil); d < bestD {
			best, bestD = h, d
		}
	}
	return best
}

// stepRef checks that step NAME has completed wherever rc is evaluated: it
// is an earlier sibling in a sequence of the node or of one of its
// ancestors, or (after children) one of the node's own children.
func (c *checker) stepRef(name string, rc refCtx, rng *hcl.Range) *hcl.Diagnostic {
	if rc.children && !rc.node.Type.IsolatedBody {
		for _, s := range rc.node.seqs() {
			if s.Label != "" && !rc.node.Type.hasBranch(s.Label) {
				continue
			}
			if s.Lookup(name) != nil {
				return nil
			}
		}
	}
	var visible []string
	if rc.children && !rc.node.Type.IsolatedBody {
		for _, s := range rc.node.seqs() {
			if s.Label == "" || rc.node.Type.hasBranch(s.Label) {
				for _, ch := range s.Nodes {
					visible = append(visible, ch.Name)
				}
			}
		}
	}
	for n := rc.node; n.In != nil; n = n.In.Owner {
		for _, sib := range n.In.Nodes {
			if sib == n {
				break
			}
			if !n.In.Concurrent {
				if sib.Name == name {
					return nil
				}
				visible = append(visible, sib.Name)
			}
		}
	}
	// Not visible: say why.
	var found []*Node
	walk(c.f.Root, func(m *Node) {
		if m.Name == name && m != c.f.Root {
			found = append(found, m)
		}
	})
	if len(found) == 0 {
		return unknown("step", name, visible, rng)
	}
	t := found[0]
	where := fmt.Sprintf("Step %q (%s)", name, t.StaticPath())
	var why string
	switch {
	case t == rc.node:
		why = fmt.Sprintf("A step cannot refer to its own outputs: step %q has not completed while its attributes are evaluated.", name)
	case isAncestor(t, rc.node):
		why = where + " contains this step, so it has not completed while this step runs."
	case t.In == rc.node.In || isAncestorSeq(t.In, rc.node):
		if t.In.Concurrent {
			why = where + " runs in parallel with this step, so it may not have completed yet. Use its outputs after " +
				t.In.Owner.StaticPath() + ", through an output block there."
		} else {
			why = where + " comes later in the flow, so it has not run yet at this point. Move it before the step that uses its outputs."
		}
	case t.In.Owner.Type.hasBranch(t.In.Label) && isAncestor(t.In.Owner, rc.node):
		why = where + " is in a different branch of " + t.In.Owner.StaticPath() + " (a " + t.In.Label + " block), which does not run along with this one."
	case t.In.Label != "" && !t.In.Owner.Type.hasBranch(t.In.Label):
		why = where + " is inside the " + t.In.Label + " block of " + t.In.Owner.StaticPath() + ", so its outputs are not visible here."
	case t.In.Owner == rc.node:
		why = where + " is a child of this step, and this expression is evaluated before the children run."
		var after []string
		for _, a := range rc.node.Type.Attrs {
			if a.Scope == AfterChildren {
				after = append(after, a.Name)
			}
		}
		if len(after) > 0 {
			why += " " + strings.Join(after, " and ") + " (evaluated after them) can refer to it."
		}
	default:
		why = where + " is inside step " + t.In.Owner.StaticPath() + ", so its outputs are not visible here. Expose them with an output block on " +
			t.In.Owner.StaticPath() + " and refer to step." + t.In.Owner.Name + ".NAME."
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Step not visible here", Detail: why, Subject: rng}
}

// isAncestorSeq reports whether seq holds n or one of n's ancestors.
func isAncestorSeq(seq *Seq, n *Node) bool {
	for m := n; m != nil && m.In != nil; m = m.In.Owner {
		if m.In == seq {
			return true
		}
	}
	return false
}

func isAncestor(a, n *Node) bool {
	for m := n; m != nil; m = m.Parent() {
		if m == a {
			return true
		}
	}
	return false
}
