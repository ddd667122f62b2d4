package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/sourcegraph/conc/pool"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// Sequential runs its children in order.
var Sequential = &flow.StepType{
	Name:    "sequential",
	Pure:    true,
	Summary: "Runs its child steps one after the other; each sees the outputs of the ones before it.",
	Body:    flow.Sequence,
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
		// No cursor of its own: on resume, the children that completed
		// before are restored by the engine (outputs and assignments
		// replayed in order), so the sequence simply runs through them.
		return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			return cty.NilVal, x.RunSeq(ctx, n.Body, x.Scope, nil, x.Path)
		}), nil
	},
}

// Parallel runs its children at the same time.
var Parallel = &flow.StepType{
	Name:    "parallel",
	Pure:    true,
	Summary: "Runs its child steps at the same time, each in its own scope.",
	Body:    flow.Concurrent,
	Attrs: []flow.Attr{
		{Name: "max_concurrency", Type: cty.Number, Default: cty.NumberIntVal(0),
			Doc: "How many children run at once; 0 means all."},
		{Name: "fail_fast", Type: cty.Bool, Default: cty.True,
			Doc: "On the first failure, cancel the running children and start no more."},
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
		return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			limit, err := x.Int("max_concurrency")
			if err != nil {
				return cty.NilVal, err
			}
			failFast, err := x.Bool("fail_fast")
			if err != nil {
				return cty.NilVal, err
			}
			// Branches that completed in an earlier execution are restored
			// by the engine without running; the others run again.
			err = concurrently(ctx, len(n.Body.Nodes), limit, failFast, func(ctx context.Context, i int) error {
				c := n.Body.Nodes[i]
				branch := x.NewScope(nil, flow.Boundary)
				_, err := x.RunNode(ctx, c, branch, x.Scope, x.Path+"/"+c.Name)
				return err
			})
			return cty.NilVal, err
		}), nil
	},
}

// concurrently runs fn(0..n-1) with at most limit at once (0: no limit).
// With failFast the first error cancels the others' context and stops
// starting new ones. All errors are returned, in index order.
func concurrently(ctx context.Context, n, limit int, failFast bool, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	if limit <= 0 || limit > n {
		limit = n
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var failed sync.Once
	p := pool.New().WithMaxGoroutines(limit)
	for i := 0; i < n; i++ {
		if failFast && ctx.Err() != nil {
			break
		}
		p.Go(func() {
			if failFast && ctx.Err() != nil {
				return
			}
			if err := fn(ctx, i); err != nil {
				errs[i] = err
				// A stop is no failure: the siblings still running finish
				// their steps, as a stop promises (cancelled, an exec step
				// would run again on resume).
				if failFast && !errors.Is(err, flow.ErrStopped) {
					failed.Do(cancel)
				}
			}
		})
	}
	p.Wait()
	return joinErrors(errs)
}

// joinErrors returns nil, the one error, or all of them with the first
// failure (not a cancellation it caused) first.
func joinErrors(errs []error) error {
	var first error
	var rest []error
	for _, e := range errs {
		if e == nil {
			continue
		}
		if first == nil && flow.KindOf(e) != flow.KindCancelled {
			first = e
			continue
		}
		rest = append(rest, e)
	}
	if first == nil && len(rest) > 0 {
		first, rest = rest[0], rest[1:]
	}
	if first == nil {
		return nil
	}
	if len(rest) == 0 {
		return first
	}
	return &multiError{first: first, rest: rest}
}

// multiError keeps the first failure's kind and step while naming the others.
type multiError struct {
	first error
	rest  []error
}

func (m *multiError) Error() string {
	s := m.first.Error()
	for _, e := range m.rest {
		if flow.KindOf(e) != flow.KindCancelled {
			s += "; " + e.Error()
		}
	}
	return s
}

func (m *multiError) Unwrap() []error { return append([]error{m.first}, m.rest...) }

// Loop repeats its children.
var Loop = &flow.StepType{
	Name:    "loop",
	Pure:    true,
	Summary: "Repeats its child steps while a condition holds (while, checked before each iteration) or until one does (until, checked after).",
	Body:    flow.Sequence,
	Locals:  []string{"loop"},
	Attrs: []flow.Attr{
		{Name: "while", Type: cty.Bool, Locals: []string{"loop"},
			Doc: "Checked before each iteration; the loop ends when it is false. loop.index is the upcoming iteration."},
		{Name: "until", Type: cty.Bool, Scope: flow.AfterChildren,
			Doc: "Checked after each iteration, with that iteration's step outputs visible; the loop ends when it is true."},
		{Name: "max_iterations", Type: cty.Number, Default: cty.NumberIntVal(1000),
			Doc: "The loop fails if it would run more iterations than this."},
	},
	Outputs: []flow.OutputDoc{{Name: "iterations", Type: "number", Doc: "How many iterations ran."}},
	Check: func(n *flow.Node) hcl.Diagnostics {
		if n.Attr("while") == nil && n.Attr("until") == nil {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Loop without condition",
				Detail: "A loop needs while (checked before each iteration), until (checked after), or both.", Subject: n.Range.Ptr()}}
		}
		return nil
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runLoop), nil },
}

// loopProgress records how many iterations were decided and completed.
// On resume those iterations are replayed (their steps restored, not run)
// without evaluating while or until again, whose values could differ now.
// Entered says that iteration Iteration was decided too (while held) and
// had begun: it carries on without deciding again.
type loopProgress struct {
	Iteration int  `json:"iteration"`
	Entered   bool `json:"entered,omitempty"`
}

func runLoop(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	limit, err := x.Int("max_iterations")
	if err != nil {
		return cty.NilVal, err
	}
	var p loopProgress
	if _, err := x.LoadProgress(&p); err != nil {
		return cty.NilVal, err
	}
	n := x.Node
	for i := 0; ; i++ {
		iter := x.NewScope(nil, flow.Transparent)
		iter.SetLocal("loop", cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))}))
		if i < p.Iteration {
			if err := x.RunSeq(ctx, n.Body, iter, x.Scope, x.Path+"#"+strconv.Itoa(i)); err != nil {
				return cty.NilVal, err
			}
			continue
		}
		entered := p.Entered && i == p.Iteration
		if a := n.Attr("while"); a != nil && !entered {
			ok, err := condition(x, iter, a)
			if err != nil {
				return cty.NilVal, err
			}
			if !ok {
				return iterations(i), nil
			}
		}
		if i >= limit {
			return cty.NilVal, flow.Errorf(flow.KindFailed, "loop exceeded max_iterations (%d) at %s", limit, flow.Pos(n.Range))
		}
		if n.Attr("while") != nil && !entered {
			// The decision is kept before the iteration's steps run: a
			// resume must finish this iteration, not decide it again.
			if err := x.SaveProgress(loopProgress{Iteration: i, Entered: true}); err != nil {
				return cty.NilVal, err
			}
		}
		if err := x.RunSeq(ctx, n.Body, iter, x.Scope, x.Path+"#"+strconv.Itoa(i)); err != nil {
			return cty.NilVal, err
		}
		if a := n.Attr("until"); a != nil {
			ok, err := condition(x, iter, a)
			if err != nil {
				return cty.NilVal, err
			}
			if ok {
				return iterations(i + 1), nil
			}
		}
		if err := x.SaveProgress(loopProgress{Iteration: i + 1}); err != nil {
			return cty.NilVal, err
		}
	}
}

// condition evaluates a boolean attribute; null is an error, not false, so
// that a missing value is not mistaken for a decision.
func condition(x *flow.Exec, s *flow.Scope, a *hcl.Attribute) (bool, error) {
	v, err := x.Eval(s, a.Expr, cty.Bool)
	if err != nil {
		return false, err
	}
	if v.IsNull() {
		return false, flow.Errorf(flow.KindEval, "%s: %s is null; it must be true or false", flow.Pos(a.Expr.Range()), a.Name)
	}
	return v.True(), nil
}

func iterations(n int) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"iterations": cty.NumberIntVal(int64(n))})
}

// Choose runs the first branch whose condition holds.
var Choose = &flow.StepType{
	Name:    "choose",
	Pure:    true,
	Summary: "Runs the steps of the first when block whose condition is true, or of otherwise when none is.",
	Branches: []flow.BranchType{
		{Name: "when", Min: 1, Doc: "A condition and the steps to run when it is true.",
			Attrs: []flow.Attr{{Name: "condition", Type: cty.Bool, Required: true, Doc: "Tried in order; the first true one wins."}}},
		{Name: "otherwise", Max: 1, Doc: "The steps to run when no condition is true."},
	},
	Outputs: []flow.OutputDoc{{Name: "branch", Type: "number", Doc: "The index of the when block taken (from 0), or -1 for otherwise or none."}},
	New:     func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runChoose), nil },
}

type chooseProgress struct {
	Branch int    `json:"branch"`
	Type   string `json:"type"`
}

func runChoose(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	n := x.Node
	var p chooseProgress
	resumed, err := x.LoadProgress(&p)
	if err != nil {
		return cty.NilVal, err
	}
	var chosen *flow.Branch
	if resumed {
		// The branch chosen before is kept: its condition may read values
		// that changed since.
		for _, b := range n.Branches {
			if b.Type == p.Type && b.Index == p.Branch {
				chosen = b
			}
		}
	} else {
		for _, b := range n.Branches {
			if b.Type == "when" {
				ok, err := condition(x, x.Scope, b.Attrs["condition"])
				if err != nil {
					return cty.NilVal, err
				}
				if ok {
					chosen = b
					break
				}
			}
		}
		if chosen == nil {
			if o := n.BranchesOf("otherwise"); len(o) > 0 {
				chosen = o[0]
			}
		}
		if chosen != nil {
			if err := x.SaveProgress(chooseProgress{Branch: chosen.Index, Type: chosen.Type}); err != nil {
				return cty.NilVal, err
			}
		}
	}
	index := -1
	if chosen == nil {
		return branchOut(index), nil
	}
	if chosen.Type == "when" {
		index = chosen.Index
	}
	scope := x.NewScope(nil, flow.Transparent)
	if err := x.RunSeq(ctx, chosen.Body, scope, x.Scope, x.Path); err != nil {
		return cty.NilVal, err
	}
	return branchOut(index), nil
}

func branchOut(i int) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"branch": cty.NumberIntVal(int64(i))})
}

// Fork runs its children once per element of a collection.
var Fork = &flow.StepType{
	Name:         "fork",
	Pure:         true,
	Summary:      "Runs its child steps once for each element of for_each, concurrently, each iteration in its own scope.",
	Body:         flow.Sequence,
	IsolatedBody: true,
	Locals:       []string{"each"},
	Attrs: []flow.Attr{
		{Name: "for_each", Type: cty.DynamicPseudoType, Required: true,
			Doc: "A list, set or map. each.key is the index (lists), the element (sets) or the key (maps); each.value the element; each.index its position."},
		{Name: "max_concurrency", Type: cty.Number, Default: cty.NumberIntVal(10),
			Doc: "How many iterations run at once; 0 means all."},
		{Name: "tolerated_failures", Type: cty.Number, Default: cty.NumberIntVal(0),
			Doc: "How many iterations may fail before the fork fails (and cancels the rest)."},
	},
	Outputs: []flow.OutputDoc{
		{Name: "results", Type: "list", Doc: "One object per element, in input order, mapping each child step's name to its outputs; null for a failed iteration."},
		{Name: "failed", Type: "number", Doc: "How many iterations failed."},
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runFork), nil },
}

// forkProgress keeps the collection the fork iterates (as cty JSON with its
// type): a resumed fork goes over the same items even if for_each would
// evaluate differently now (a directory listing, a timestamp). Iterations
// that completed are restored by the engine, the others run again.
type forkProgress struct {
	Items json.RawMessage `json:"items"`
}

func runFork(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	a := x.Node.Attr("for_each")
	var p forkProgress
	resumed, err := x.LoadProgress(&p)
	if err != nil {
		return cty.NilVal, err
	}
	var coll cty.Value
	if resumed && len(p.Items) > 0 {
		if coll, err = flow.UnmarshalValue(p.Items); err != nil {
			return cty.NilVal, fmt.Errorf("fork items saved by the earlier execution: %w", err)
		}
	} else if coll, err = x.Attr("for_each"); err != nil {
		return cty.NilVal, err
	}
	if coll.IsNull() {
		return cty.NilVal, flow.Errorf(flow.KindEval, "%s: for_each is null", flow.Pos(a.Expr.Range()))
	}
	ty := coll.Type()
	if !(ty.IsListType() || ty.IsSetType() || ty.IsMapType() || ty.IsTupleType() || ty.IsObjectType()) {
		return cty.NilVal, flow.Errorf(flow.KindEval, "%s: for_each must be a list, set or map, not %s", flow.Pos(a.Expr.Range()), ty.FriendlyName())
	}
	limit, err := x.Int("max_concurrency")
	if err != nil {
		return cty.NilVal, err
	}
	tolerated, err := x.Int("tolerated_failures")
	if err != nil {
		return cty.NilVal, err
	}
	type elem struct{ key, value cty.Value }
	var elems []elem
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if ty.IsSetType() {
			k = v
		}
		elems = append(elems, elem{k, v})
	}
	if !resumed || len(p.Items) == 0 {
		items, err := flow.MarshalValue(coll)
		if err != nil {
			return cty.NilVal, fmt.Errorf("save fork items: %w", err)
		}
		if err := x.SaveProgress(forkProgress{Items: items}); err != nil {
			return cty.NilVal, err
		}
	}
	results := make([]cty.Value, len(elems))
	for i := range results {
		results[i] = cty.NullVal(cty.DynamicPseudoType)
	}
	var mu sync.Mutex
	failed := 0
	errs := make([]error, len(elems))
	n := x.Node
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_ = concurrently(ctx, len(elems), limit, false, func(ctx context.Context, i int) error {
		iter := x.NewScope(nil, flow.Boundary)
		iter.SetLocal("each", cty.ObjectVal(map[string]cty.Value{
			"key": elems[i].key, "value": elems[i].value, "index": cty.NumberIntVal(int64(i)),
		}))
		err := x.RunSeq(ctx, n.Body, iter, nil, fmt.Sprintf("%s[%d]", x.Path, i))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[i] = err
			cancelledByUs := ctx.Err() != nil && flow.KindOf(err) == flow.KindCancelled
			if !errors.Is(err, flow.ErrStopped) && !cancelledByUs {
				failed++
				if failed > tolerated {
					cancel()
				}
			}
			return err
		}
		results[i] = stepsObject(iter)
		return nil
	})
	out := cty.ObjectVal(map[string]cty.Value{
		"results": cty.TupleVal(results),
		"failed":  cty.NumberIntVal(int64(failed)),
	})
	if failed > tolerated {
		err := joinErrors(errs)
		return cty.NilVal, &flow.Error{Kind: flow.KindOf(err), Msg: fmt.Sprintf("%d of %d iterations failed (tolerated: %d)", failed, len(elems), tolerated), Err: err}
	}
	if ctx.Err() != nil {
		if err := joinErrors(errs); err != nil {
			return cty.NilVal, err
		}
		return cty.NilVal, ctx.Err()
	}
	if stopped := firstStopped(errs); stopped != nil {
		return cty.NilVal, stopped
	}
	return out, nil
}

func firstStopped(errs []error) error {
	for _, e := range errs {
		if e != nil && errors.Is(e, flow.ErrStopped) {
			return e
		}
	}
	return nil
}

// stepsObject collects the outputs a scope recorded, by step name.
func stepsObject(s *flow.Scope) cty.Value {
	m := s.Steps()
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}
