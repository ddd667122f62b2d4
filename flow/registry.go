package flow

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Step is the run-time form of one step block. Run evaluates the step's
// attributes through x and returns the step's outputs (an object, or null).
type Step interface {
	Run(ctx context.Context, x *Exec) (cty.Value, error)
}

// StepFunc adapts a function to Step.
type StepFunc func(ctx context.Context, x *Exec) (cty.Value, error)

// Run calls f.
func (f StepFunc) Run(ctx context.Context, x *Exec) (cty.Value, error) { return f(ctx, x) }

// BodyKind says whether a step type holds child steps in its block.
type BodyKind int

const (
	// NoBody: a leaf step.
	NoBody BodyKind = iota
	// Sequence: children run one after the other; each sees the outputs of
	// the siblings before it.
	Sequence
	// Concurrent: children run at the same time; none sees another's outputs.
	Concurrent
)

// StepType describes a step block type: its attributes, whether it holds
// children, and how to build its run-time form.
type StepType struct {
	Name     string
	Summary  string
	Attrs    []Attr
	Body     BodyKind
	Branches []BranchType
	// Blocks are nested configuration blocks that hold no steps, such as
	// batch's reader "csv" { ... }.
	Blocks []BlockType
	// Claims lists decorators the step reads itself rather than being
	// wrapped by them (a batch step's retry block retries chunks, not the
	// step): their blocks are decoded and checked as usual, and found with
	// Node.Decorator.
	Claims []string
	// Outputs documents the outputs the step produces itself.
	Outputs []OutputDoc
	// Pure steps have no effect outside the run (set, log, control steps):
	// the engine may group their state changes into later commits, since
	// running one again after a crash changes nothing. Steps that are not
	// pure have their start and end made durable before the run moves on.
	Pure bool
	// IsolatedBody means the children's outputs stay inside each run of the
	// body (fork iterations): the step's output blocks cannot refer to them.
	IsolatedBody bool
	// Locals names the variables (such as "loop" or "each") the step
	// defines for its children.
	Locals []string
	// Declares lists the variables a step of this type assigns (set does),
	// so that references to them pass the static check.
	Declares func(n *Node) []string
	// Check runs extra static checks on a decoded node.
	Check func(n *Node) hcl.Diagnostics
	// New builds the run-time step. Static errors found here are reported
	// before anything runs.
	New func(n *Node) (Step, hcl.Diagnostics)
}

// BranchType describes a nested block that holds a sequence of child steps,
// such as choose's when and otherwise.
type BranchType struct {
	Name  string
	Attrs []Attr
	Min   int // fewest blocks allowed
	Max   int // most blocks allowed; 0 means no limit
	Doc   string
}

// BlockType describes a nested configuration block of a step.
type BlockType struct {
	Name   string
	Labels []string // the label names, such as ["type"] or ["type", "name"]
	Min    int      // fewest blocks allowed
	Max    int      // most blocks allowed; 0 means no limit
	// MinLabels lets trailing labels be left out (writer "csv" with no
	// name): a left-out label repeats the one before it. 0 means all labels
	// are required.
	MinLabels int
	Doc       string
	// Attrs returns the attributes the block takes, which may depend on its
	// labels: a reader "csv" takes other attributes than a reader "jsonl".
	// An error is reported at the first label.
	Attrs func(labels []string) ([]Attr, error)
	// Blocks returns the blocks nested in this one, by its labels.
	Blocks func(labels []string) []BlockType
}

// OutputDoc documents one output of a step type.
type OutputDoc struct {
	Name string
	Type string
	Doc  string
}

// AttrScope says what an attribute's expression can refer to.
type AttrScope int

const (
	// BeforeChildren: evaluated before the step's children run (the default).
	BeforeChildren AttrScope = iota
	// AfterChildren: evaluated after (some of) the children ran, so it may
	// refer to them with step.NAME, as loop's until does.
	AfterChildren
)

// Attr describes one attribute of a step, branch or decorator block.
type Attr struct {
	Name     string
	Type     cty.Type // cty.DynamicPseudoType accepts any value
	Required bool
	Default  cty.Value // cty.NilVal means null
	Doc      string
	Duration bool     // the value is a Go duration string ("1m30s")
	OneOf    []string // allowed string values
	Scope    AttrScope
	// Locals names extra root variables visible to this attribute only,
	// such as "error" in retry's if.
	Locals []string
}

// DecoratorType describes a decorator: an attribute (if, timeout) or a block
// (retry, catch, finally) that any step may carry.
type DecoratorType struct {
	Name string
	// Order places the decorator in the wrapping chain: lower is outer.
	Order   int
	Summary string
	// Block is true for block decorators; false for attribute decorators
	// whose attribute has the decorator's name.
	Block bool
	// Attr describes the attribute of an attribute decorator.
	Attr Attr
	// Attrs describes the attributes of a block decorator.
	Attrs []Attr
	// Body is true when the block holds child steps.
	Body bool
	// Locals names the variables the decorator defines for its body.
	Locals []string
	New    func(d *DecoratorConfig) (Decorator, hcl.Diagnostics)
}

// Runner runs a step (and the decorators inside the one holding it).
type Runner func(ctx context.Context, x *Exec) (cty.Value, error)

// Decorator wraps a step's run.
type Decorator interface {
	Wrap(next Runner) Runner
}

// DecoratorFunc adapts a function to Decorator.
type DecoratorFunc func(next Runner) Runner

// Wrap calls f.
func (f DecoratorFunc) Wrap(next Runner) Runner { return f(next) }

// Registry holds the step and decorator types a loader knows.
type Registry struct {
	mu         sync.RWMutex
	steps      map[string]*StepType
	decorators map[string]*DecoratorType
	flowBlocks []BlockType
}

// RegisterFlowBlock adds a block type the flow block itself takes, such as
// datasource "NAME" { ... }; steps find them with Flow.BlocksOf.
func (r *Registry) RegisterFlowBlock(t BlockType) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if reserved[t.Name] || r.steps[t.Name] != nil || r.decorators[t.Name] != nil {
		panic(fmt.Sprintf("flow: flow block %q clashes with a step, decorator or reserved name", t.Name))
	}
	for _, b := range r.flowBlocks {
		if b.Name == t.Name {
			panic(fmt.Sprintf("flow: flow block %q registered twice", t.Name))
		}
	}
	r.flowBlocks = append(r.flowBlocks, t)
}

// FlowBlocks lists the registered flow-level block types.
func (r *Registry) FlowBlocks() []BlockType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]BlockType(nil), r.flowBlocks...)
}

// RegisterFlowBlock adds a flow-level block type to DefaultRegistry.
func RegisterFlowBlock(t BlockType) { DefaultRegistry.RegisterFlowBlock(t) }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{steps: map[string]*StepType{}, decorators: map[string]*DecoratorType{}}
}

// DefaultRegistry is the registry used when none is given. The standard step
// and decorator packages register into it from their init functions.
var DefaultRegistry = NewRegistry()

// reserved block and attribute names that a step type or decorator cannot take.
var reserved = map[string]bool{"vars": true, "output": true, "param": true, "flow": true, "description": true}

// RegisterStep adds a step type. It panics on a programming error (a duplicate
// or reserved name), as database/sql.Register does.
func (r *Registry) RegisterStep(t *StepType) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.Name == "" || t.New == nil {
		panic("flow: RegisterStep needs a Name and a New function")
	}
	if reserved[t.Name] || r.steps[t.Name] != nil || r.decorators[t.Name] != nil {
		panic(fmt.Sprintf("flow: step type %q registered twice or reserved", t.Name))
	}
	r.steps[t.Name] = t
}

// RegisterDecorator adds a decorator type.
func (r *Registry) RegisterDecorator(t *DecoratorType) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.Name == "" || t.New == nil {
		panic("flow: RegisterDecorator needs a Name and a New function")
	}
	if reserved[t.Name] || r.steps[t.Name] != nil || r.decorators[t.Name] != nil {
		panic(fmt.Sprintf("flow: decorator %q registered twice or reserved", t.Name))
	}
	r.decorators[t.Name] = t
}

// Step returns the step type of that name, or nil.
func (r *Registry) Step(name string) *StepType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.steps[name]
}

// Decorator returns the decorator type of that name, or nil.
func (r *Registry) Decorator(name string) *DecoratorType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.decorators[name]
}

// StepTypes lists the registered step types by name.
func (r *Registry) StepTypes() []*StepType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*StepType, 0, len(r.steps))
	for _, t := range r.steps {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DecoratorTypes lists the registered decorators, outermost first.
func (r *Registry) DecoratorTypes() []*DecoratorType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*DecoratorType, 0, len(r.decorators))
	for _, t := range r.decorators {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out
}

// RegisterStep adds a step type to DefaultRegistry.
func RegisterStep(t *StepType) { DefaultRegistry.RegisterStep(t) }

// RegisterDecorator adds a decorator type to DefaultRegistry.
func RegisterDecorator(t *DecoratorType) { DefaultRegistry.RegisterDecorator(t) }

func (t *StepType) attr(name string) *Attr { return findAttr(t.Attrs, name) }

func findAttr(specs []Attr, name string) *Attr {
	for i := range specs {
		if specs[i].Name == name {
			return &specs[i]
		}
	}
	return nil
}
