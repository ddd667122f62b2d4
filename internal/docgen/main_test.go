package main

import (
	"bytes"
	"context"
	"errors"
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

// testBatch is a batch-like step type whose writer blocks add an attribute
// to the writer's own (as the batch step adds filter), and components with
// nested blocks.
func testBatch() (*flow.StepType, Components) {
	field := flow.BlockType{Name: "field", Labels: []string{"name"}, Doc: "A field.",
		Attrs: func([]string) ([]flow.Attr, error) {
			return []flow.Attr{{Name: "width", Type: cty.Number, Required: true, Doc: "Bytes."}}, nil
		}}
	record := func(name string, min int) flow.BlockType {
		return flow.BlockType{Name: name, Min: min, Max: 1, Doc: "The " + name + " record.",
			Attrs:  func([]string) ([]flow.Attr, error) { return nil, nil },
			Blocks: func([]string) []flow.BlockType { return []flow.BlockType{field} }}
	}
	model := []flow.BlockType{record("head", 0), record("rows", 1)}
	comps := Components{
		Readers: []Component{{Name: "dat", Summary: "Reads dat files.", Blocks: model,
			Attrs: []flow.Attr{{Name: "path", Type: cty.String, Required: true, Doc: "The file."}}}},
		Writers: []Component{{Name: "dat", Summary: "Writes dat files.", Blocks: model,
			Attrs: []flow.Attr{{Name: "path", Type: cty.String, Required: true, Doc: "The file."}}}},
	}
	byName := func(list []Component, labels []string) *Component {
		for i := range list {
			if len(labels) > 0 && list[i].Name == labels[0] {
				return &list[i]
			}
		}
		return nil
	}
	kind := func(name string, labels []string, min, max int, list []Component, extra ...flow.Attr) flow.BlockType {
		return flow.BlockType{Name: name, Labels: labels, MinLabels: 1, Min: min, Max: max, Doc: "The " + name + ".",
			Attrs: func(l []string) ([]flow.Attr, error) {
				c := byName(list, l)
				if c == nil {
					return nil, errors.New("no such type")
				}
				return append(append([]flow.Attr(nil), c.Attrs...), extra...), nil
			},
			Blocks: func(l []string) []flow.BlockType {
				if c := byName(list, l); c != nil {
					return c.Blocks
				}
				return nil
			}}
	}
	step := &flow.StepType{Name: "batch", Claims: []string{"retry"}, Blocks: []flow.BlockType{
		kind("reader", []string{"type"}, 1, 1, comps.Readers),
		kind("writer", []string{"type", "name"}, 1, 0, comps.Writers,
			flow.Attr{Name: "only", Type: cty.String, Doc: "Which records."}),
		{Name: "skip", Max: 1, Doc: "Skipping.", Attrs: func([]string) ([]flow.Attr, error) {
			return []flow.Attr{{Name: "limit", Type: cty.Number, Default: cty.NumberIntVal(0), Doc: "How many."}}, nil
		}},
	}}
	return step, comps
}

func TestRenderBatch(t *testing.T) {
	step, comps := testBatch()
	page := string(RenderBatch(step, comps))
	for _, want := range []string{
		"| `reader \"TYPE\" { ... }` | exactly 1 | The reader. |",
		"| `writer \"TYPE\" [\"NAME\"] { ... }` | at least 1 | The writer. |",
		"### `skip` block\n\nSkipping.\n\n**Attributes**",
		"| `limit` | number | `0` | no | How many. |",
		"### `retry` block\n\nThe batch step reads its `retry { ... }` block itself",
		"| [`dat`](#dat-reader) | Reads dat files. |",
		"No processor type is registered.",
		"### `dat` writer\n\nWrites dat files.\n\nWritten as `writer \"dat\" [\"NAME\"] { ... }`.",
		// The writer takes what the step's writer block adds.
		"| `only` | string |  | no | Which records. |",
		"**`reader \"dat\"` › `head { ... }`** (at most 1). The head record.\n\nIt takes no attributes.",
		"**`reader \"dat\"` › `head` › `field \"NAME\" { ... }`** (any number). A field.",
		"| `width` | number |  | yes | Bytes. |",
		// The same blocks again are not repeated.
		"**`reader \"dat\"` › `rows { ... }`** (exactly 1). The rows record.\n\nIt takes what `reader \"dat\"` › `head` takes, above.",
		"**`writer \"dat\"` › `head { ... }`** (at most 1). The head record.\n\nIt takes what `reader \"dat\"` › `head` takes, above.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
	if n := strings.Count(page, "| `width` |"); n != 1 {
		t.Errorf("the field table is there %d times, want once", n)
	}
	if strings.Contains(page, "| `only` |") && strings.Index(page, "| `only` |") < strings.Index(page, "### `dat` writer") {
		t.Errorf("the writer-only attribute shows up before the writer")
	}
	if !bytes.Equal([]byte(page), RenderBatch(step, comps)) {
		t.Error("two renderings differ")
	}

	steps := string(RenderSteps(func() *flow.Registry {
		reg := flow.NewRegistry()
		step.New = noop
		reg.RegisterStep(step)
		return reg
	}()))
	for _, want := range []string{
		"**Blocks**\n\n| Block | Count | Description |",
		"| `skip { ... }` | at most 1 | Skipping. |",
		"The attributes of these blocks, and the types they name, are in the [batch reference](batch.md).",
		"**Reads its own `retry { ... }` block**",
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps page lacks %q\n%s", want, steps)
		}
	}
}

func TestRenderBatchEmpty(t *testing.T) {
	page := string(RenderBatch(nil, Components{}))
	for _, kind := range []string{"reader", "processor", "writer"} {
		if !strings.Contains(page, "No "+kind+" type is registered.") {
			t.Errorf("page does not say there is no %s:\n%s", kind, page)
		}
	}
}

// The generator imports the packages that register components: dropping
// one would silently drop its section from the page.
func TestBatchPageListsStandardComponents(t *testing.T) {
	page := string(Render(flow.DefaultRegistry, flow.Functions(""))[Pages[2]])
	for _, want := range []string{"### `csv` reader", "### `jsonl` reader", "### `fixed` reader",
		"### `csv` writer", "### `jsonl` writer", "### `fixed` writer", "### `js` processor",
		"### `skip` block", "| `filter` | string |"} {
		if !strings.Contains(page, want) {
			t.Errorf("the batch page lacks %q", want)
		}
	}
}
