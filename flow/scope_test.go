package flow

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func str(s string) cty.Value { return cty.StringVal(s) }

// varOf returns a variable as a Go string, "<undefined>" when not visible.
func varOf(s *Scope, name string) string {
	v, ok := s.Var(name)
	if !ok {
		return "<undefined>"
	}
	return v.AsString()
}

func TestScopeVarLookup(t *testing.T) {
	root := NewScope(nil, StepScope)
	root.Declare("a", str("root a"))
	root.Declare("b", str("root b"))
	mid := NewScope(root, Transparent)
	mid.Declare("b", str("mid b"))
	leaf := NewScope(mid, StepScope)
	leaf.Declare("c", str("leaf c"))

	tests := []struct {
		scope *Scope
		name  string
		want  string
	}{
		{leaf, "a", "root a"},
		{leaf, "b", "mid b"}, // nearest wins
		{leaf, "c", "leaf c"},
		{mid, "b", "mid b"},
		{mid, "c", "<undefined>"}, // never downwards
		{root, "b", "root b"},
		{root, "zzz", "<undefined>"},
	}
	for _, tt := range tests {
		if got := varOf(tt.scope, tt.name); got != tt.want {
			t.Errorf("%s seen from %p = %q, want %q", tt.name, tt.scope, got, tt.want)
		}
	}
	if leaf.Parent() != mid || mid.Parent() != root || root.Parent() != nil {
		t.Error("Parent links wrong")
	}
	if leaf.Kind() != StepScope || mid.Kind() != Transparent {
		t.Error("Kind wrong")
	}
}

func TestScopeAssign(t *testing.T) {
	// Each case builds a chain of scopes from the root down, declares
	// variables in some of them, assigns x from the last one, and checks
	// which scope took the write and what every scope then sees.
	type level struct {
		kind ScopeKind
		x    string // the x declared here; "" for none
	}
	tests := []struct {
		name    string
		chain   []level
		written int      // index of the scope Assign must return
		want    []string // x as seen from each level after the write
	}{
		{name: "own declaration",
			chain:   []level{{StepScope, "old"}},
			written: 0, want: []string{"new"}},
		{name: "ancestor's declaration through step scopes",
			chain:   []level{{StepScope, "old"}, {StepScope, ""}, {StepScope, ""}},
			written: 0, want: []string{"new", "new", "new"}},
		{name: "nearest declaration wins",
			chain:   []level{{StepScope, "root"}, {StepScope, "mid"}, {StepScope, ""}},
			written: 1, want: []string{"root", "new", "new"}},
		{name: "through transparent scopes",
			chain:   []level{{StepScope, "old"}, {Transparent, ""}, {Transparent, ""}},
			written: 0, want: []string{"new", "new", "new"}},
		{name: "undeclared goes to the nearest step scope",
			chain:   []level{{StepScope, ""}, {StepScope, ""}, {Transparent, ""}, {Transparent, ""}},
			written: 1, want: []string{"<undefined>", "new", "new", "new"}},
		{name: "undeclared from a step scope stays there",
			chain:   []level{{StepScope, ""}, {Transparent, ""}, {StepScope, ""}},
			written: 2, want: []string{"<undefined>", "<undefined>", "new"}},
		{name: "transparent declaration is written in place",
			chain:   []level{{StepScope, "outer"}, {Transparent, "old"}, {Transparent, ""}},
			written: 1, want: []string{"outer", "new", "new"}},
		{name: "only transparent scopes: declared where assigned",
			chain:   []level{{Transparent, ""}, {Transparent, ""}},
			written: 1, want: []string{"<undefined>", "new"}},
		{name: "boundary shadows a variable declared outside",
			chain:   []level{{StepScope, "outer"}, {Boundary, ""}, {StepScope, ""}},
			written: 1, want: []string{"outer", "new", "new"}},
		{name: "boundary shadows through transparent scopes",
			chain:   []level{{StepScope, "outer"}, {Transparent, ""}, {Boundary, ""}, {Transparent, ""}},
			written: 2, want: []string{"outer", "outer", "new", "new"}},
		{name: "boundary shadows at the boundary, not in a nested step scope",
			chain:   []level{{StepScope, "outer"}, {Boundary, ""}, {StepScope, ""}, {StepScope, ""}},
			written: 1, want: []string{"outer", "new", "new", "new"}},
		{name: "declaration inside the boundary is written",
			chain:   []level{{StepScope, "outer"}, {Boundary, ""}, {StepScope, "inner"}, {Transparent, ""}},
			written: 2, want: []string{"outer", "outer", "new", "new"}},
		{name: "boundary's own declaration is written",
			chain:   []level{{StepScope, "outer"}, {Boundary, "branch"}, {StepScope, ""}},
			written: 1, want: []string{"outer", "new", "new"}},
		{name: "undeclared inside a boundary goes to the nearest step scope",
			chain:   []level{{StepScope, ""}, {Boundary, ""}, {StepScope, ""}},
			written: 2, want: []string{"<undefined>", "<undefined>", "new"}},
		{name: "undeclared, boundary is the nearest non-transparent scope",
			chain:   []level{{StepScope, ""}, {Boundary, ""}, {Transparent, ""}},
			written: 1, want: []string{"<undefined>", "new", "new"}},
		{name: "nested boundaries shadow at the innermost",
			chain:   []level{{StepScope, "outer"}, {Boundary, ""}, {StepScope, ""}, {Boundary, ""}, {StepScope, ""}},
			written: 3, want: []string{"outer", "outer", "outer", "new", "new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var chain []*Scope
			var parent *Scope
			for _, l := range tt.chain {
				s := NewScope(parent, l.kind)
				if l.x != "" {
					s.Declare("x", str(l.x))
				}
				chain = append(chain, s)
				parent = s
			}
			got := chain[len(chain)-1].Assign("x", str("new"))
			if got != chain[tt.written] {
				idx := slices.Index(chain, got)
				t.Errorf("written to scope %d, want %d", idx, tt.written)
			}
			for i, s := range chain {
				if v := varOf(s, "x"); v != tt.want[i] {
					t.Errorf("x seen from scope %d = %q, want %q", i, v, tt.want[i])
				}
			}
		})
	}
}

// Sibling boundaries that shadow the same outer variable never see each
// other's writes, even when they assign at the same time.
func TestScopeAssignConcurrentBoundaries(t *testing.T) {
	root := NewScope(nil, StepScope)
	root.Declare("x", str("outer"))
	parallel := NewScope(root, StepScope)
	const n = 16
	branches := make([]*Scope, n)
	for i := range branches {
		branches[i] = NewScope(NewScope(parallel, Boundary), StepScope)
	}
	var wg sync.WaitGroup
	for i, b := range branches {
		wg.Go(func() {
			for j := range 50 {
				b.Assign("x", str(fmt.Sprintf("branch %d step %d", i, j)))
				b.Assign(fmt.Sprintf("own%d", i), cty.NumberIntVal(int64(j)))
				_ = b.VarNames()
			}
		})
	}
	wg.Wait()
	for i, b := range branches {
		if got, want := varOf(b, "x"), fmt.Sprintf("branch %d step 49", i); got != want {
			t.Errorf("branch %d sees x = %q, want %q", i, got, want)
		}
		for j := range branches {
			_, ok := b.Var(fmt.Sprintf("own%d", j))
			if ok != (i == j) {
				t.Errorf("branch %d sees own%d: %v", i, j, ok)
			}
		}
	}
	if got := varOf(root, "x"); got != "outer" {
		t.Errorf("outer x = %q after the branches, want it unchanged", got)
	}
	if got := parallel.Vars(); len(got) != 0 {
		t.Errorf("the parallel's scope took writes: %v", got)
	}
}

func TestScopeLocal(t *testing.T) {
	root := NewScope(nil, StepScope)
	root.SetLocal("each", str("root each"))
	loop := NewScope(root, Transparent)
	loop.SetLocal("loop", str("index 0"))
	inner := NewScope(loop, StepScope)
	inner.SetLocal("each", str("inner each"))

	check := func(s *Scope, name, want string) {
		t.Helper()
		v, ok := s.Local(name)
		got := "<undefined>"
		if ok {
			got = v.AsString()
		}
		if got != want {
			t.Errorf("local %s = %q, want %q", name, got, want)
		}
	}
	check(inner, "each", "inner each")
	check(inner, "loop", "index 0")
	check(loop, "each", "root each")
	check(root, "loop", "<undefined>")
	// Locals are not variables.
	if _, ok := inner.Var("loop"); ok {
		t.Error("a local is visible as a variable")
	}
	loop.SetLocal("loop", str("index 1"))
	check(inner, "loop", "index 1")
}

func TestScopeStepOutputs(t *testing.T) {
	root := NewScope(nil, StepScope)
	root.RecordStep("a", cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(1)}))
	seq := NewScope(root, StepScope)
	seq.RecordStep("b", cty.EmptyObjectVal)
	seq.RecordStep("skipped", cty.NullVal(cty.DynamicPseudoType))
	branch := NewScope(seq, Boundary)
	branch.RecordStep("a", str("shadowing a"))

	if v, ok := seq.StepOutputs("a"); !ok || !v.GetAttr("n").RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("step a from seq = %#v, %v", v, ok)
	}
	if v, ok := branch.StepOutputs("a"); !ok || v.AsString() != "shadowing a" {
		t.Errorf("step a from branch = %#v, %v; want the nearest record", v, ok)
	}
	if _, ok := branch.StepOutputs("b"); !ok {
		t.Error("an ancestor's step is not visible")
	}
	if v, ok := seq.StepOutputs("skipped"); !ok || !v.IsNull() {
		t.Errorf("skipped step = %#v, %v; want a recorded null", v, ok)
	}
	if _, ok := root.StepOutputs("b"); ok {
		t.Error("a nested scope's step is visible from above")
	}
	if _, ok := seq.StepOutputs("nope"); ok {
		t.Error("an unknown step is visible")
	}
	// Steps lists the scope's own records only.
	if got := mapKeys(seq.Steps()); !slices.Equal(got, []string{"b", "skipped"}) {
		t.Errorf("seq.Steps() = %v", got)
	}
	// Re-recording replaces (a loop's next iteration).
	seq.RecordStep("b", str("again"))
	if v, _ := branch.StepOutputs("b"); v.AsString() != "again" {
		t.Errorf("re-recorded step b = %#v", v)
	}
	// Step outputs and variables live apart.
	if _, ok := seq.Var("b"); ok {
		t.Error("a step is visible as a variable")
	}
}

func TestScopeCopies(t *testing.T) {
	root := NewScope(nil, StepScope)
	root.Declare("a", str("1"))
	child := NewScope(root, Transparent)
	child.Declare("b", str("2"))
	child.Declare("a", str("shadow"))
	child.RecordStep("s", cty.EmptyObjectVal)

	vars := child.Vars()
	if len(vars) != 2 || vars["b"].AsString() != "2" || vars["a"].AsString() != "shadow" {
		t.Errorf("Vars() = %v, want this scope's own", vars)
	}
	vars["b"] = str("changed")
	delete(vars, "a")
	if varOf(child, "b") != "2" || varOf(child, "a") != "shadow" {
		t.Error("Vars() is not a copy")
	}
	steps := child.Steps()
	delete(steps, "s")
	if _, ok := child.StepOutputs("s"); !ok {
		t.Error("Steps() is not a copy")
	}
	if got := child.VarNames(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("VarNames() = %v, want [a b] sorted and without duplicates", got)
	}
	if got := NewScope(nil, StepScope).VarNames(); len(got) != 0 {
		t.Errorf("empty VarNames() = %v", got)
	}
}
