package flow

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Set is what one load produced: the flows of a file or a directory.
type Set struct {
	Flows  []*Flow
	loader *Loader
}

// Only returns the single flow of the set, or an error naming the choices.
func (s *Set) Only() (*Flow, error) {
	if len(s.Flows) == 1 {
		return s.Flows[0], nil
	}
	if len(s.Flows) == 0 {
		return nil, errorf(KindUsage, "no flow block found")
	}
	return nil, errorf(KindUsage, "%d flows found (%s): name one", len(s.Flows), strings.Join(s.names(), ", "))
}

// Flow returns the flow of that name.
func (s *Set) Flow(name string) (*Flow, error) {
	for _, f := range s.Flows {
		if f.Name == name {
			return f, nil
		}
	}
	return nil, errorf(KindUsage, "no flow named %q (have %s)", name, strings.Join(s.names(), ", "))
}

func (s *Set) names() []string {
	var n []string
	for _, f := range s.Flows {
		n = append(n, f.Name)
	}
	return n
}

// Files returns the parsed source files by name, for printing diagnostics
// with source snippets.
func (s *Set) Files() map[string]*hcl.File { return s.loader.Files() }

// Flow is one loaded and checked flow block.
type Flow struct {
	Name        string
	Description string
	File        string // the file that holds the flow block
	Dir         string // its directory: relative paths resolve against it
	Params      []*Param
	// Root is the flow's body: an implicit sequential step named "main".
	Root *Node
	// Blocks are the flow-level blocks registered with RegisterFlowBlock
	// (such as datasource), in source order.
	Blocks   []*Block
	Range    hcl.Range
	loader   *Loader
	registry *Registry
	key      string   // the file's absolute path (or clean FS path)
	chain    []string // the files whose call steps led to loading this one
}

// Key identifies the flow's file: its absolute path, or its clean path in
// the loader's fs.FS.
func (f *Flow) Key() string { return f.key }

// Param returns the parameter of that name, or nil.
func (f *Flow) Param(name string) *Param {
	for _, p := range f.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// BlocksOf returns the flow-level blocks of that type.
func (f *Flow) BlocksOf(typ string) []*Block {
	var out []*Block
	for _, b := range f.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// Registry returns the registry the flow was loaded with.
func (f *Flow) Registry() *Registry { return f.registry }

// Loader returns the loader that loaded the flow, which caches files.
func (f *Flow) Loader() *Loader { return f.loader }

// Param is a declared flow parameter.
type Param struct {
	Name        string
	Type        cty.Type
	Default     cty.Value // cty.NilVal when the parameter is required
	Description string
	Sensitive   bool
	// Identifying is false when the parameter does not tell one job instance
	// from another.
	Identifying bool
	Range       hcl.Range
}

// Required reports whether a value must be given.
func (p *Param) Required() bool { return p.Default == cty.NilVal }

// Node is one step block of a flow, decoded and checked.
type Node struct {
	Type  *StepType
	Name  string
	Range hcl.Range // the block's definition range
	// Attrs are the step type's attributes present in the block.
	Attrs map[string]*hcl.Attribute
	// Vars is the vars attribute, if any; VarNames its keys.
	Vars     *hcl.Attribute
	VarNames []string
	Outputs  []*OutputDecl
	// Body holds the child steps of a composite step; nil for a leaf.
	Body *Seq
	// Branches hold nested blocks with their own children (choose's when).
	Branches []*Branch
	// Blocks are the step's nested configuration blocks.
	Blocks     []*Block
	Decorators []*DecoratorConfig
	// In is the sequence that holds the node; nil for a flow's root.
	In   *Seq
	Flow *Flow
	Step Step
}

// StaticPath is the node's path without iteration indexes, such as
// "main/reports/by_account".
func (n *Node) StaticPath() string {
	if n.In == nil || n.In.Owner == nil {
		return n.Name
	}
	p := n.In.Owner.StaticPath()
	// Branches (choose's when) share their step's path segment, as at run
	// time; decorator bodies (catch, finally) have their own.
	if n.In.Label != "" && !n.In.Owner.Type.hasBranch(n.In.Label) {
		p += "/@" + n.In.Label
	}
	return p + "/" + n.Name
}

// Parent returns the node whose block holds n, or nil for a root.
func (n *Node) Parent() *Node {
	if n.In == nil {
		return nil
	}
	return n.In.Owner
}

// Attr returns the attribute of that name, or nil.
func (n *Node) Attr(name string) *hcl.Attribute { return n.Attrs[name] }

// Branch returns the branches of that block type, in source order.
func (n *Node) BranchesOf(typ string) []*Branch {
	var out []*Branch
	for _, b := range n.Branches {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// BlocksOf returns the configuration blocks of that type, in source order.
func (n *Node) BlocksOf(typ string) []*Block {
	var out []*Block
	for _, b := range n.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// Decorator returns the decorator of that name written on the step, or nil.
func (n *Node) Decorator(name string) *DecoratorConfig {
	for _, d := range n.Decorators {
		if d.Type.Name == name {
			return d
		}
	}
	return nil
}

// Block is a nested configuration block of a step.
type Block struct {
	Type   string
	Labels []string
	Attrs  map[string]*hcl.Attribute
	// Specs are the attributes the block takes.
	Specs  []Attr
	Blocks []*Block
	Range  hcl.Range
	// LabelRanges are the positions of the labels, for messages.
	LabelRanges []hcl.Range
}

// BlocksOf returns the nested blocks of that type.
func (b *Block) BlocksOf(typ string) []*Block {
	var out []*Block
	for _, c := range b.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// Label returns label i, or "" when it was left out.
func (b *Block) Label(i int) string {
	if i < len(b.Labels) {
		return b.Labels[i]
	}
	return ""
}

// Seq is an ordered list of child steps: a composite's body, a branch's
// body or a catch/finally body.
type Seq struct {
	Owner      *Node
	Concurrent bool
	// Label is empty for a step's own body and names the branch or
	// decorator block otherwise ("when", "catch", ...).
	Label string
	Nodes []*Node
}

// Lookup returns the child of that name.
func (s *Seq) Lookup(name string) *Node {
	if s == nil {
		return nil
	}
	for _, n := range s.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Branch is a nested block that holds child steps, such as a when block.
type Branch struct {
	Type  string
	Index int // among the branches of the same type
	Attrs map[string]*hcl.Attribute
	Body  *Seq
	Range hcl.Range
}

// OutputDecl is an output "NAME" { value = EXPR } block.
type OutputDecl struct {
	Name        string
	Value       hcl.Expression
	Description string
	Sensitive   bool
	Range       hcl.Range
}

// DecoratorConfig is one decorator as written on a step.
type DecoratorConfig struct {
	Type *DecoratorType
	// Attr is the attribute of an attribute decorator.
	Attr *hcl.Attribute
	// Attrs are the attributes of a block decorator.
	Attrs map[string]*hcl.Attribute
	// Body holds the child steps of a catch or finally block.
	Body  *Seq
	Range hcl.Range
	Node  *Node
	impl  Decorator
	// Claimed is true when the step reads the decorator itself.
	Claimed bool
}
