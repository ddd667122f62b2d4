package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// Engine runs flows.
type Engine struct {
	// Observer receives every run's events; nil for none.
	Observer Observer
	// Logger is handed to steps (with the step path attached); nil discards.
	Logger *slog.Logger
}

// NewEngine returns an engine that sends events to obs (which may be nil).
func NewEngine(obs Observer) *Engine { return &Engine{Observer: obs} }

// RunOptions are the inputs of one run.
type RunOptions struct {
	// Params are the parameter values; missing ones take their defaults.
	// Values are converted to the declared types.
	Params map[string]cty.Value
	// ExecutionID names the run; a random one is made when empty.
	ExecutionID string
	// Journal makes the run durable and resumable; nil keeps nothing.
	Journal Journal
}

// Result is how a run ended.
type Result struct {
	ExecutionID string
	Flow        string
	Status      Status
	Outputs     map[string]cty.Value
	// Err is the failure of a FAILED run, or the cause of a STOPPED one.
	Err     error
	Started time.Time
	Ended   time.Time
}

// Run is one execution of a flow.
type Run struct {
	ID       string
	Flow     *Flow
	engine   *Engine
	observer Observer
	logger   *slog.Logger
	root     *frame

	journal  Journal
	ctx      context.Context // the run's own context: cancelled on abort
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
	result   *Result

	mu            sync.Mutex
	progress      map[string][]byte
	resources     map[string]*resource
	resourceOrder []string
}

type resource struct {
	once sync.Once
	val  io.Closer
	err  error
}

// frame is one flow being evaluated: the top flow, or a flow reached by call.
type frame struct {
	flow      *Flow
	funcs     map[string]function.Function
	paramsVal cty.Value
	flowVal   cty.Value
	calls     []string // files of the calling flows, outermost first
}

// Run runs f to the end and returns how it ended. The error is for problems
// found before the run starts, such as missing or ill-typed params.
func (e *Engine) Run(ctx context.Context, f *Flow, opts RunOptions) (*Result, error) {
	r, err := e.Start(ctx, f, opts)
	if err != nil {
		return nil, err
	}
	return r.Wait(), nil
}

// Start begins a run in the background.
func (e *Engine) Start(ctx context.Context, f *Flow, opts RunOptions) (*Run, error) {
	params, err := f.BindParams(opts.Params)
	if err != nil {
		return nil, err
	}
	id := opts.ExecutionID
	if id == "" {
		id = NewExecutionID()
	}
	logger := e.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	obs := e.Observer
	if obs == nil {
		obs = Observers(nil)
	}
	r := &Run{
		ID: id, Flow: f, engine: e, observer: obs,
		logger: logger.With("execution_id", id, "flow", f.Name), // as the CLI's run lines name it
		stopCh: make(chan struct{}), done: make(chan struct{}),
		progress: map[string][]byte{}, journal: opts.Journal,
	}
	r.root = r.newFrame(f, params, nil)
	r.ctx = ctx
	go r.run(ctx)
	return r, nil
}

func (r *Run) newFrame(f *Flow, params map[string]cty.Value, calls []string) *frame {
	return &frame{
		flow:      f,
		funcs:     f.funcs(),
		paramsVal: objectOrEmpty(params),
		flowVal: cty.ObjectVal(map[string]cty.Value{
			"name":         cty.StringVal(f.Name),
			"execution_id": cty.StringVal(r.ID),
			"file":         cty.StringVal(f.File),
			"dir":          cty.StringVal(f.Dir),
		}),
		calls: calls,
	}
}

// Stop asks the run to stop at the next step boundary. Steps already running
// finish (or see Stopping); the run ends STOPPED.
func (r *Run) Stop() { r.stopOnce.Do(func() { close(r.stopCh) }) }

// Wait blocks until the run ends and returns its result.
func (r *Run) Wait() *Result {
	<-r.done
	return r.result
}

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

func (r *Run) stopping() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

func (r *Run) emit(e Event) {
	e.Time = time.Now()
	e.RunID = r.ID
	e.Flow = r.Flow.Name
	r.observer.Observe(e)
}

func (r *Run) run(ctx context.Context) {
	res := &Result{ExecutionID: r.ID, Flow: r.Flow.Name, Started: time.Now()}
	defer func() {
		if p := recover(); p != nil {
			res.Status, res.Err = Failed, fmt.Errorf("internal error: %v", p)
		}
		if err := r.closeResources(); err != nil && res.Err == nil && res.Status == Completed {
			res.Status, res.Err = Failed, err
		}
		res.Ended = time.Now()
		r.result = res
		r.emit(Event{Kind: RunFinished, Status: res.Status, Err: res.Err, Duration: res.Ended.Sub(res.Started)})
		close(r.done)
	}()
	r.emit(Event{Kind: RunStarted})
	outs, err := r.runFlow(ctx, r.root, r.Flow.Root.Name)
	switch {
	case err == nil:
		res.Status = Completed
		res.Outputs = outs
	case errors.Is(err, ErrStopped) || (ctx.Err() != nil && errors.Is(err, context.Canceled)):
		res.Status, res.Err = Stopped, err
	default:
		res.Status, res.Err = Failed, err
	}
}

// runFlow runs a frame's root node and returns the flow's outputs.
func (r *Run) runFlow(ctx context.Context, fr *frame, path string) (map[string]cty.Value, error) {
	root := NewScope(nil, StepScope)
	out, _, err := r.runNode(ctx, fr, fr.flow.Root, root, root, path)
	if err != nil {
		return nil, err
	}
	if out.IsNull() || !out.Type().IsObjectType() {
		return map[string]cty.Value{}, nil
	}
	return out.AsValueMap(), nil
}

// Exec is the context of one step execution: its node, path and scope. Step
// types use it to evaluate their attributes and run their children.
type Exec struct {
	Node *Node
	// Path is the step's path, with iteration and fork indexes.
	Path string
	// Scope is the step's own scope: its vars, and its children's outputs.
	Scope *Scope
	// Outer is the scope around the step, where its vars and decorators are
	// evaluated.
	Outer *Scope
	// Attempt counts attempts, from 1; retry increments it.
	Attempt int
	Logger  *slog.Logger

	run        *Run
	frame      *frame
	ignoreStop bool
	assigned   []Assignment // made by the step or escaping from its children
	own        []*Scope     // scopes that belong to the step (its own, catch/finally bodies)
	state      StepState
}

// RunID returns the execution id.
func (x *Exec) RunID() string { return x.run.ID }

// Flow returns the flow the step belongs to.
func (x *Exec) Flow() *Flow { return x.frame.flow }

// Stopping is closed when a stop was asked for. Steps that wait (sleep,
// retry back-off) return early on it.
func (x *Exec) Stopping() <-chan struct{} {
	if x.ignoreStop {
		return nil
	}
	return x.run.stopCh
}

// Aborted reports whether the whole run was aborted (its context
// cancelled), as opposed to this step being cancelled by a timeout or a
// failing sibling around it.
func (x *Exec) Aborted() bool { return x.run.ctx.Err() != nil }

// Emit sends an event about this step.
func (x *Exec) Emit(e Event) {
	if e.Path == "" {
		e.Path = x.Path
	}
	if e.StepType == "" && x.Node.Type != nil {
		e.StepType = x.Node.Type.Name
	}
	if e.Attempt == 0 {
		e.Attempt = x.Attempt
	}
	if e.Kind == StepProgress && e.Counters != nil {
		// Kept with the step's record (flow show), from its next save on.
		c := make(map[string]int64, len(e.Counters))
		for k, v := range e.Counters {
			c[k] = v
		}
		x.run.mu.Lock()
		x.state.Counters = c
		x.run.mu.Unlock()
	}
	x.run.emit(e)
}

// Eval evaluates expr in scope s (the step's own scope when nil) and converts
// the result to ty. Errors carry the expression's position.
func (x *Exec) Eval(s *Scope, expr hcl.Expression, ty cty.Type) (cty.Value, error) {
	if s == nil {
		s = x.Scope
	}
	ctx, diags := x.frame.evalContext(s, expr)
	if diags.HasErrors() {
		return cty.NilVal, diagError(diags)
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diagError(diags)
	}
	if ty == cty.NilType || ty == cty.DynamicPseudoType {
		return v, nil
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		r := expr.Range()
		return cty.NilVal, &Error{Kind: KindEval, Msg: fmt.Sprintf("%s: wrong type: %s", Pos(r), err)}
	}
	return cv, nil
}

// Attr evaluates the step attribute name in the step's scope, converted to
// the type its spec declares; an absent attribute gives the spec's default
// (or null).
func (x *Exec) Attr(name string) (cty.Value, error) {
	spec := x.Node.Type.attr(name)
	return evalAttr(x, x.Scope, x.Node.Attrs[name], spec)
}

// AttrIn is Attr for an attribute map of a branch or decorator.
func (x *Exec) AttrIn(s *Scope, attrs map[string]*hcl.Attribute, specs []Attr, name string) (cty.Value, error) {
	return evalAttr(x, s, attrs[name], findAttr(specs, name))
}

func evalAttr(x *Exec, s *Scope, a *hcl.Attribute, spec *Attr) (cty.Value, error) {
	ty := cty.DynamicPseudoType
	if spec != nil && spec.Type != cty.NilType {
		ty = spec.Type
	}
	if a == nil {
		if spec != nil && spec.Default != cty.NilVal {
			return spec.Default, nil
		}
		return cty.NullVal(ty), nil
	}
	return x.Eval(s, a.Expr, ty)
}

// BlockAttr evaluates an attribute of a configuration block in the step's
// scope, converted to the type its spec declares (the default when absent).
func (x *Exec) BlockAttr(b *Block, name string) (cty.Value, error) {
	return evalAttr(x, x.Scope, b.Attrs[name], findAttr(b.Specs, name))
}

// String, Int, Bool and Duration evaluate a step attribute to a Go value.
func (x *Exec) String(name string) (string, error) {
	v, err := x.Attr(name)
	if err != nil || v.IsNull() {
		return "", err
	}
	return v.AsString(), nil
}

// Int evaluates a whole-number attribute.
func (x *Exec) Int(name string) (int, error) {
	v, err := x.Attr(name)
	if err != nil || v.IsNull() {
		return 0, err
	}
	return ToInt(v, x.Node.Attrs[name])
}

// Bool evaluates a boolean attribute.
func (x *Exec) Bool(name string) (bool, error) {
	v, err := x.Attr(name)
	if err != nil || v.IsNull() {
		return false, err
	}
	return v.True(), nil
}

// Duration evaluates a duration attribute ("1m30s").
func (x *Exec) Duration(name string) (time.Duration, error) {
	v, err := x.Attr(name)
	if err != nil || v.IsNull() {
		return 0, err
	}
	return ToDuration(v, x.Node.Attrs[name])
}

// ToInt converts a number to int, naming the attribute's position when it is
// not a whole number.
func ToInt(v cty.Value, a *hcl.Attribute) (int, error) {
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, &Error{Kind: KindEval, Msg: fmt.Sprintf("%s: %s is not a whole number", where(a), bf.String())}
	}
	i, _ := bf.Int64()
	return int(i), nil
}

// ToDuration parses a Go duration string, naming the attribute's position
// when it is not one.
func ToDuration(v cty.Value, a *hcl.Attribute) (time.Duration, error) {
	d, err := time.ParseDuration(v.AsString())
	if err != nil {
		return 0, &Error{Kind: KindEval, Msg: fmt.Sprintf("%s: %q is not a duration (use Go syntax such as \"30s\" or \"1m30s\")", where(a), v.AsString())}
	}
	if d < 0 {
		return 0, &Error{Kind: KindEval, Msg: fmt.Sprintf("%s: duration %s is negative", where(a), d)}
	}
	return d, nil
}

func where(a *hcl.Attribute) string {
	if a == nil {
		return "default"
	}
	return Pos(a.Expr.Range())
}

// BodyScope returns a scope for a block of steps that belongs to the step,
// such as catch or finally: it sees the step's own vars (as they were when
// it ended) and passes new declarations up to the scope around the step.
func (x *Exec) BodyScope() *Scope {
	s := NewScope(x.Outer, Transparent)
	x.run.mu.Lock()
	x.own = append(x.own, s)
	x.run.mu.Unlock()
	if x.Scope != nil {
		for k, v := range x.Scope.Vars() {
			s.Declare(k, v)
		}
	}
	return s
}

// NewScope returns a scope under parent (the step's own scope when nil).
func (x *Exec) NewScope(parent *Scope, kind ScopeKind) *Scope {
	if parent == nil {
		parent = x.Scope
	}
	return NewScope(parent, kind)
}

// RunSeq runs the steps of seq one after the other in scope parent, keeping
// each step's outputs in record (parent when nil) under its name. Child paths
// are prefix + "/" + name. It stops at the first failure.
func (x *Exec) RunSeq(ctx context.Context, seq *Seq, parent, record *Scope, prefix string) error {
	if seq == nil {
		return nil
	}
	if record == nil {
		record = parent
	}
	for _, n := range seq.Nodes {
		if _, err := x.RunNode(ctx, n, parent, record, prefix+"/"+n.Name); err != nil {
			return err
		}
	}
	return nil
}

// RunNode runs one child step at path in scope parent and keeps its outputs in
// record under its name.
func (x *Exec) RunNode(ctx context.Context, n *Node, parent, record *Scope, path string) (cty.Value, error) {
	out, assigned, err := x.run.runNode(ctx, x.frame, n, parent, record, path)
	if len(assigned) > 0 {
		x.run.mu.Lock()
		x.assigned = append(x.assigned, assigned...)
		x.run.mu.Unlock()
	}
	return out, err
}

// RunFlow runs another flow as a nested part of this run (the call step):
// its steps' paths start with this step's path, and its outputs are returned.
// A flow that calls itself, directly or not, is refused.
func (x *Exec) RunFlow(ctx context.Context, f *Flow, params map[string]cty.Value) (map[string]cty.Value, error) {
	for _, c := range x.frame.calls {
		if c == f.key && c != "" {
			return nil, Errorf(KindFailed, "call cycle: %s is already being run", f.File)
		}
	}
	if f.key == x.frame.flow.key {
		return nil, Errorf(KindFailed, "call cycle: %s calls itself", f.File)
	}
	bound, err := f.BindParams(params)
	if err != nil {
		return nil, err
	}
	calls := append(append([]string(nil), x.frame.calls...), x.frame.flow.key)
	return x.run.runFlow(ctx, x.run.newFrame(f, bound, calls), x.Path)
}

// Resource returns the run's resource under key, opening it on first use:
// something steps of one execution share, such as a database connection
// pool. Resources are closed when the run ends, in reverse order of opening.
func (x *Exec) Resource(key string, open func() (io.Closer, error)) (io.Closer, error) {
	r := x.run
	r.mu.Lock()
	if r.resources == nil {
		r.resources = map[string]*resource{}
	}
	res, ok := r.resources[key]
	if !ok {
		res = &resource{}
		r.resources[key] = res
		r.resourceOrder = append(r.resourceOrder, key)
	}
	r.mu.Unlock()
	res.once.Do(func() { res.val, res.err = open() })
	return res.val, res.err
}

func (r *Run) closeResources() error {
	r.mu.Lock()
	order := r.resourceOrder
	res := r.resources
	r.mu.Unlock()
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		if c := res[order[i]]; c != nil && c.err == nil && c.val != nil {
			if err := c.val.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", order[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// FlowBlockAttr evaluates an attribute of a flow-level block (such as a
// datasource's dsn): params, flow.* and functions are in scope.
func (x *Exec) FlowBlockAttr(b *Block, name string) (cty.Value, error) {
	return evalAttr(x, NewScope(nil, StepScope), b.Attrs[name], findAttr(b.Specs, name))
}

// Assign sets a variable the way the set step does (see Scope.Assign),
// starting from the scope around the step. The engine keeps the assignments
// a step made, so that a resumed run can replay them for a step that
// completed before.
func (x *Exec) Assign(name string, v cty.Value) {
	target := x.Outer.Assign(name, v)
	x.run.mu.Lock()
	x.assigned = append(x.assigned, Assignment{Name: name, Value: v, target: target})
	x.run.mu.Unlock()
}

// Assignment is one variable assignment made by a step.
type Assignment struct {
	Name   string
	Value  cty.Value
	target *Scope // where it landed, in this run
}

// owns reports whether s is one of the step's own scopes or inside one.
// Assignments that land there are not replayed when the step is restored:
// they belong to the step's inside, which a restore does not rebuild, and
// would leak if replayed from outside.
func (x *Exec) owns(s *Scope) bool {
	for c := s; c != nil; c = c.parent {
		if c == x.Scope {
			return true
		}
		for _, o := range x.own {
			if c == o {
				return true
			}
		}
	}
	return false
}

// SaveProgress keeps the step's progress (a JSON-encodable value such as a
// loop's iteration) so that a resumed run can carry on from it. With a
// journal, it is committed together with the states of the children that
// completed before it.
func (x *Exec) SaveProgress(v any) error {
	st, err := x.setProgress(v)
	if err != nil || x.run.journal == nil {
		return err
	}
	return x.run.journal.Record(st, false)
}

// Checkpoint is SaveProgress made durable before it returns: what a step
// whose progress stands for work done outside the run (a batch's committed
// chunks) needs.
func (x *Exec) Checkpoint(v any) error {
	st, err := x.setProgress(v)
	if err != nil || x.run.journal == nil {
		return err
	}
	return x.run.journal.Record(st, true)
}

func (x *Exec) setProgress(v any) (StepState, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return StepState{}, fmt.Errorf("save progress of %s: %w", x.Path, err)
	}
	x.run.mu.Lock()
	x.run.progress[x.Path] = b
	x.state.Progress = b
	st := x.state
	x.run.mu.Unlock()
	return st, nil
}

// Durable reports whether the run keeps its state in a store (a journal):
// whether a checkpoint would survive a crash. A step may skip work that
// only durability needs (an fsync) when it does not.
func (x *Exec) Durable() bool { return x.run.journal != nil }

// LoadProgress fills v with the progress saved for this step in this run,
// or else by an earlier execution being resumed, reporting whether there was
// any.
func (x *Exec) LoadProgress(v any) (bool, error) {
	x.run.mu.Lock()
	b, ok := x.run.progress[x.Path]
	x.run.mu.Unlock()
	if !ok && x.run.journal != nil {
		if st, found := x.run.journal.Restore(x.Path); found && len(st.Progress) > 0 {
			b, ok = st.Progress, true
		}
	}
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("progress of %s: %w", x.Path, err)
	}
	return true, nil
}

// Resumed reports whether an earlier execution left state for this step:
// the run is carrying on from it.
func (x *Exec) Resumed() bool {
	if x.run.journal == nil {
		return false
	}
	_, ok := x.run.journal.Restore(x.Path)
	return ok
}

func (r *Run) clearProgress(path string) error {
	r.mu.Lock()
	for k := range r.progress {
		if Under(k, path) {
			delete(r.progress, k)
		}
	}
	r.mu.Unlock()
	if r.journal != nil {
		return r.journal.Forget(path)
	}
	return nil
}

// Under reports whether path is p or a path below it (a child, an
// iteration, a catch body).
func Under(path, p string) bool {
	if !strings.HasPrefix(path, p) {
		return false
	}
	if len(path) == len(p) {
		return true
	}
	switch path[len(p)] {
	case '/', '#', '[':
		return true
	}
	return false
}

// restore finishes a step that completed (or was skipped) in an earlier
// execution without running it: its outputs are recorded and its variable
// assignments applied again.
func (r *Run) restore(n *Node, st StepState, parent, record *Scope, path string) (cty.Value, []Assignment) {
	out := st.Outputs
	if out == cty.NilVal || st.Status == Skipped {
		out = cty.NullVal(cty.DynamicPseudoType)
	}
	var replayed []Assignment
	for _, a := range st.Assigned {
		target := parent.Assign(a.Name, a.Value)
		replayed = append(replayed, Assignment{Name: a.Name, Value: a.Value, target: target})
	}
	record.RecordStep(n.Name, out)
	r.emit(Event{Kind: StepRestored, Path: path, StepType: n.Type.Name, Status: st.Status})
	return out, replayed
}

func (r *Run) record(x *Exec, sync bool) error {
	if r.journal == nil {
		return nil
	}
	r.mu.Lock()
	st := x.state
	r.mu.Unlock()
	return r.journal.Record(st, sync)
}

// runNode is the heart of the engine: the stop check, the decorator chain, the
// events and the recording of outputs.
func (r *Run) runNode(ctx context.Context, fr *frame, n *Node, parent, record *Scope, path string) (cty.Value, []Assignment, error) {
	ignoreStop := ignoringStop(ctx)
	if !ignoreStop && r.stopping() {
		return cty.NilVal, nil, &Error{Kind: KindCancelled, Step: path, Msg: "not started", Err: ErrStopped}
	}
	if err := ctx.Err(); err != nil {
		return cty.NilVal, nil, &Error{Kind: KindCancelled, Step: path, Msg: "not started", Err: err}
	}
	if r.journal != nil {
		if st, ok := r.journal.Restore(path); ok && (st.Status == Completed || st.Status == Skipped) {
			out, replayed := r.restore(n, st, parent, record, path)
			return out, replayed, nil
		}
	}
	x := &Exec{Node: n, Path: path, Outer: parent, Attempt: 1, run: r, frame: fr,
		Logger: r.logger.With("step", path), ignoreStop: ignoreStop}
	start := time.Now()
	x.state = StepState{Path: path, Type: n.Type.Name, Status: Started, Attempt: 1, Started: start}
	if r.journal != nil {
		if st, ok := r.journal.Restore(path); ok {
			x.state.Progress = st.Progress
			// The step runs again: its catch and finally blocks run anew
			// after it, whatever they did after the failed run.
			for _, body := range []string{"/@catch", "/@finally"} {
				if err := r.journal.Forget(path + body); err != nil {
					return cty.NilVal, nil, &Error{Kind: KindFailed, Step: path, Msg: "journal", Err: err}
				}
			}
		}
	}
	// A step with effects outside the run starts only once everything
	// before it is durable, so that a resume never repeats completed work.
	if err := r.record(x, !n.Type.Pure); err != nil {
		return cty.NilVal, nil, &Error{Kind: KindFailed, Step: path, Msg: "journal", Err: err}
	}
	runner := base
	for i := len(n.Decorators) - 1; i >= 0; i-- {
		if d := n.Decorators[i]; !d.Claimed {
			runner = d.impl.Wrap(runner)
		}
	}
	x.Emit(Event{Kind: StepStarted})
	out, err := runner(ctx, x)
	r.mu.Lock()
	x.state.Attempt = x.Attempt
	x.state.Ended = time.Now()
	r.mu.Unlock()
	if errors.Is(err, ErrSkipped) {
		record.RecordStep(n.Name, cty.NullVal(cty.DynamicPseudoType))
		x.setState(Skipped, cty.NilVal, nil)
		if jerr := r.record(x, false); jerr != nil {
			return cty.NilVal, nil, &Error{Kind: KindFailed, Step: path, Msg: "journal", Err: jerr}
		}
		x.Emit(Event{Kind: StepSkipped})
		return cty.NullVal(cty.DynamicPseudoType), nil, nil
	}
	if err != nil {
		err = stamp(err, path)
		status := Failed
		if KindOf(err) == KindCancelled {
			status = Stopped
		}
		x.setState(status, cty.NilVal, err)
		if jerr := r.record(x, !n.Type.Pure); jerr != nil {
			err = errors.Join(err, jerr)
		}
		x.Emit(Event{Kind: StepFailed, Err: err, Duration: time.Since(start)})
		return cty.NilVal, nil, err
	}
	if out == cty.NilVal {
		out = cty.EmptyObjectVal
	}
	x.setState(Completed, out, nil)
	if jerr := r.record(x, !n.Type.Pure); jerr != nil {
		return cty.NilVal, nil, &Error{Kind: KindFailed, Step: path, Msg: "journal", Err: jerr}
	}
	record.RecordStep(n.Name, out)
	x.Emit(Event{Kind: StepCompleted, Duration: time.Since(start)})
	return out, x.state.Assigned, nil
}

func (x *Exec) setState(s Status, out cty.Value, err error) {
	x.run.mu.Lock()
	defer x.run.mu.Unlock()
	x.state.Status = s
	x.state.Outputs = out
	x.state.Assigned = nil
	for _, a := range x.assigned {
		if !x.owns(a.target) {
			x.state.Assigned = append(x.state.Assigned, a)
		}
	}
	if err != nil {
		x.state.ErrorKind, x.state.Error = KindOf(err), MessageOf(err)
	}
}

// base is the innermost runner: a fresh scope with the step's vars, the
// step itself, then its output blocks.
func base(ctx context.Context, x *Exec) (cty.Value, error) {
	n := x.Node
	if x.Attempt > 1 {
		// A new attempt starts the step over: forget the progress the failed
		// attempt left for it and everything below it.
		if err := x.StartOver(); err != nil {
			return cty.NilVal, err
		}
	}
	x.Scope = NewScope(x.Outer, StepScope)
	if n.Vars != nil {
		v, err := x.vars()
		if err != nil {
			return cty.NilVal, err
		}
		if !v.IsNull() && v.CanIterateElements() {
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				x.Scope.Declare(k.AsString(), ev)
			}
		}
	}
	out, err := n.Step.Run(ctx, x)
	if err != nil {
		return cty.NilVal, err
	}
	if len(n.Outputs) == 0 {
		return out, nil
	}
	vals := map[string]cty.Value{}
	if out != cty.NilVal && !out.IsNull() && out.Type().IsObjectType() {
		vals = out.AsValueMap()
		if vals == nil {
			vals = map[string]cty.Value{}
		}
	}
	for _, o := range n.Outputs {
		v, err := x.Eval(x.Scope, o.Value, cty.DynamicPseudoType)
		if err != nil {
			return cty.NilVal, err
		}
		vals[o.Name] = v
	}
	return cty.ObjectVal(vals), nil
}

// StartOver forgets what the step and every step below it kept, in this
// run and in the execution being resumed: its progress, its children's
// outcomes and their assignments, so that its children run again rather
// than being restored. A retry does it before each new attempt; a step
// whose children's effects are undone as a whole (a database transaction
// that a crash rolled back) does it before running them again.
func (x *Exec) StartOver() error {
	if err := x.run.clearProgress(x.Path); err != nil {
		return err
	}
	x.run.mu.Lock()
	x.state.Progress = nil
	x.assigned = nil
	x.run.mu.Unlock()
	return nil
}

// VarsType is the type of the journal records that keep a step's vars
// as they were evaluated (at the step's path + "/@vars", or "/@flowvars"
// for a flow's root, which a called flow shares with its call step).
const VarsType = "@vars"

// vars evaluates the step's vars attribute. With a journal, the values are
// kept, and a step that an earlier execution began gets back the values it
// had then: a resumed step sees the variables of the failed run, even when
// its vars read a file, the environment or the time.
func (x *Exec) vars() (cty.Value, error) {
	n := x.Node
	j := x.run.journal
	path := x.Path + "/@vars"
	if n.In == nil {
		path = x.Path + "/@flowvars"
	}
	if j != nil {
		if st, ok := j.Restore(path); ok && st.Status == Completed && st.Outputs != cty.NilVal {
			return st.Outputs, nil
		}
	}
	v, err := x.Eval(x.Outer, n.Vars.Expr, cty.DynamicPseudoType)
	if err != nil || j == nil {
		return v, err
	}
	now := time.Now()
	err = j.Record(StepState{Path: path, Type: VarsType, Status: Completed, Attempt: 1, Started: now, Ended: now, Outputs: v}, false)
	if err != nil {
		return cty.NilVal, &Error{Kind: KindFailed, Step: x.Path, Msg: "journal", Err: err}
	}
	return v, nil
}

// NewExecutionID returns a new random execution id, sortable by time.
func NewExecutionID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}
