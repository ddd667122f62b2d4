package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/flowbatch/flow/flow"
)

// TestCommittedPagesUpToDate fails when a generated page in docs/reference
// no longer matches the registered step types, decorators and functions.
func TestCommittedPagesUpToDate(t *testing.T) {
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	pages := Render(flow.DefaultRegistry, flow.Functions(""))
	for _, name := range Pages {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s: %v; run `%s` from the repository root", name, err, Command)
			continue
		}
		if !bytes.Equal(got, pages[name]) {
			t.Errorf("%s is out of date (%s); run `%s` from the repository root and commit the result",
				name, firstDiff(got, pages[name]), Command)
		}
	}
}

// firstDiff describes the first line where the committed page differs.
func firstDiff(committed, want []byte) string {
	a := strings.Split(string(committed), "\n")
	b := strings.Split(string(want), "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var la, lb string
		if i < len(a) {
			la = a[i]
		}
		if i < len(b) {
			lb = b[i]
		}
		if la != lb || i >= len(a) || i >= len(b) {
			return "first difference at line " + strconv.Itoa(i+1) + ": committed " + quote(la) + ", generated " + quote(lb)
		}
	}
	return "no line differs"
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return "«" + s + "»"
}

func noop(n *flow.Node) (flow.Step, hcl.Diagnostics) {
	return flow.StepFunc(func(context.Context, *flow.Exec) (cty.Value, error) { return cty.NilVal, nil }), nil
}

func testRegistry() *flow.Registry {
	reg := flow.NewRegistry()
	// Registered out of order: the page lists them sorted.
	reg.RegisterStep(&flow.StepType{
		Name: "zeta", Summary: "Last by name.", New: noop,
	})
	reg.RegisterStep(&flow.StepType{
		Name: "alpha", Summary: "Does alpha | things.", Body: flow.Sequence, Locals: []string{"it"},
		Attrs: []flow.Attr{
			{Name: "count", Type: cty.Number, Required: true, Doc: "How many."},
			{Name: "mode", Type: cty.String, Default: cty.StringVal("fast"), OneOf: []string{"fast", "slow"}, Doc: "The mode."},
			{Name: "wait", Type: cty.String, Duration: true, Doc: "How long."},
			{Name: "done", Type: cty.Bool, Scope: flow.AfterChildren, Doc: "Stop?"},
			{Name: "tags", Type: cty.List(cty.String), Doc: "Labels."},
			{Name: "any", Type: cty.DynamicPseudoType, Doc: "Anything."},
		},
		Branches: []flow.BranchType{{Name: "case", Min: 1, Max: 2, Doc: "A case.",
			Attrs: []flow.Attr{{Name: "test", Type: cty.Bool, Required: true, Doc: "The test."}}}},
		Outputs: []flow.OutputDoc{{Name: "total", Type: "number", Doc: "The total."}},
		New:     noop,
	})
	reg.RegisterDecorator(&flow.DecoratorType{Name: "inner", Order: 50, Summary: "Inner one.",
		Attr: flow.Attr{Name: "inner", Type: cty.String, Duration: true, Doc: "A limit."},
		New:  func(*flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) { return nil, nil }})
	reg.RegisterDecorator(&flow.DecoratorType{Name: "outer", Order: 10, Summary: "Outer one.", Block: true, Body: true,
		Locals: []string{"problem"},
		Attrs:  []flow.Attr{{Name: "when", Type: cty.Bool, Locals: []string{"problem"}, Doc: "Whether."}},
		New:    func(*flow.DecoratorConfig) (flow.Decorator, hcl.Diagnostics) { return nil, nil }})
	return reg
}

func TestRenderSteps(t *testing.T) {
	page := string(RenderSteps(testRegistry()))
	for _, want := range []string{
		"| [`alpha`](#alpha) | Does alpha \\| things. |",
		"| `count` | number |  | yes | How many. |",
		"| `mode` | string | `\"fast\"` | no | The mode. One of `\"fast\"`, `\"slow\"`. |",
		"| `wait` | duration (string) |  | no | How long. |",
		"| `done` | bool |  | no | Stop? Evaluated after the children ran: it may refer to them with `step.NAME`. |",
		"| `tags` | list of string |  | no | Labels. |",
		"| `any` | any |  | no | Anything. |",
		"**`case { ... }` blocks** (1 to 2). A case.",
		"| `test` | bool |  | yes | The test. |",
		"| `total` | number | The total. |",
		"**Defines for its children**: `it.*`.",
		"Holds child steps, which run in order.",
		"**Outputs**: none (an empty object).",
		"| `inner` | duration (string) |  | no | A limit. |",
		"| `when` | bool |  | no | Whether. May use `problem.*`. |",
		"**Defines for its steps**: `problem.*`.",
		"Written as block `outer { ... }` with steps.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
	order := []string{"### `alpha`", "### `zeta`", "### `outer` decorator", "### `inner` decorator"}
	last := -1
	for _, h := range order {
		i := strings.Index(page, h)
		if i < 0 || i < last {
			t.Errorf("heading %q missing or out of order (want %v)", h, order)
		}
		last = i
	}
}

func TestRenderFunctions(t *testing.T) {
	funcs := map[string]function.Function{
		"greet": function.New(&function.Spec{
			Description: "Greets\n  someone.",
			Params:      []function.Parameter{{Name: "name", Type: cty.String, Description: "Who."}},
			VarParam:    &function.Parameter{Name: "extra", Type: cty.DynamicPseudoType},
			Type:        function.StaticReturnType(cty.String),
		}),
		"now": function.New(&function.Spec{Type: function.StaticReturnType(cty.String)}),
	}
	page := string(RenderFunctions(funcs))
	for _, want := range []string{
		"2 functions:\n\n[`greet`](#greet) · [`now`](#now)\n",
		"### `greet`\n\n`greet(name, extra...)`\n\nGreets someone.\n",
		"| `name` | string | Who. |",
		"| `extra...` | any | Any number of further arguments. |",
		"### `now`\n\n`now()`\n\nTakes no arguments.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a := Render(flow.DefaultRegistry, flow.Functions(""))
	for i := 0; i < 5; i++ {
		b := Render(flow.DefaultRegistry, flow.Functions(""))
		for _, name := range Pages {
			if !bytes.Equal(a[name], b[name]) {
				t.Fatalf("%s differs between two renderings", name)
			}
		}
	}
}

func TestRunWritesAndChecks(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if code := run([]string{"-check", "-root", dir}, &out, &errs); code != 1 {
		t.Fatalf("-check on an empty tree: exit %d, want 1 (%s%s)", code, out.String(), errs.String())
	}
	if code := run([]string{"-root", dir}, &out, &errs); code != 0 {
		t.Fatalf("write: exit %d (%s)", code, errs.String())
	}
	for _, name := range Pages {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Errorf("not written: %v", err)
		}
	}
	out.Reset()
	if code := run([]string{"-check", "-root", dir}, &out, &errs); code != 0 {
		t.Fatalf("-check after writing: exit %d (%s)", code, out.String())
	}
	if code := run([]string{"-root", dir}, &out, &errs); code != 0 || strings.Contains(out.String(), "wrote") {
		t.Fatalf("second write: exit %d, output %q; want nothing rewritten", code, out.String())
	}
}
