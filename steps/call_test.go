package steps_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

const childFlow = `
flow "child" {
  param "n" { type = number }
  param "greeting" {
    type    = string
    default = "hi"
  }
  sequential "x" {
    log "say" { message = "${param.greeting} ${param.n}" }
  }
  set "double" { assign = { d = param.n * 2 } }
  output "double" { value = step.double.d }
  output "name"   { value = flow.name }
}`

func TestCallParamsAndOutputs(t *testing.T) {
	res, rec, _ := runFile(t, map[string]string{
		"main.flow.hcl": `
flow "t" {
  call "c" {
    flow   = "lib/child.flow.hcl"
    params = { n = 21 }
  }
  log "after" { message = "got ${step.c.double}" }
  output "double" { value = step.c.double }
  output "name"   { value = step.c.name }
}`,
		"lib/child.flow.hcl": childFlow,
	}, nil)
	mustComplete(t, res)
	wantOutput(t, res, "double", "42")
	wantOutput(t, res, "name", `"child"`)
	if got := rec.Messages(); !slices.Equal(got, []string{"hi 21", "got 42"}) {
		t.Errorf("messages %q", got)
	}
	for _, p := range []string{"main/c/x/say", "main/c/x", "main/c/double", "main/c"} {
		if eventOf(rec, flow.StepCompleted, p) == nil {
			t.Errorf("no completed step %s in %q", p, rec.Paths(flow.StepCompleted))
		}
	}
}

func TestCallInFork(t *testing.T) {
	res, rec, _ := runFile(t, map[string]string{
		"main.flow.hcl": `
flow "t" {
  fork "f" {
    for_each = [1, 2, 3]
    call "c" {
      flow   = "lib/child.flow.hcl"
      params = { n = each.value, greeting = "yo" }
    }
  }
  output "doubles" { value = [for r in step.f.results : r.c.double] }
}`,
		"lib/child.flow.hcl": childFlow,
	}, nil)
	mustComplete(t, res)
	wantOutput(t, res, "doubles", "[2, 4, 6]")
	if eventOf(rec, flow.StepCompleted, "main/f[2]/c/x/say") == nil {
		t.Errorf("paths %q", rec.Paths(flow.StepCompleted))
	}
}

func TestCallNoOutputs(t *testing.T) {
	res, _, _ := runFile(t, map[string]string{
		"main.flow.hcl": `
flow "t" {
  call "c" { flow = "quiet.flow.hcl" }
  output "c" { value = step.c }
}`,
		"quiet.flow.hcl": `flow "quiet" {
  log "l" { message = "quiet" }
}`,
	}, nil)
	mustComplete(t, res)
	wantOutput(t, res, "c", "{}")
}

func TestCallParamErrors(t *testing.T) {
	for _, tc := range []struct {
		name, params string
		wants        []string
	}{
		{"missing", `{ greeting = "x" }`, []string{`missing param "n"`}},
		{"wrong type", `{ n = "many" }`, []string{`param "n" must be number`}},
		{"unknown", `{ n = 1, m = 2 }`, []string{`unknown param "m"`}},
		{"not an object", `"n=1"`, []string{"params must be an object"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, rec, _ := runFile(t, map[string]string{
				"main.flow.hcl": `
flow "t" {
  call "c" {
    flow   = "lib/child.flow.hcl"
    params = ` + tc.params + `
  }
}`,
				"lib/child.flow.hcl": childFlow,
			}, nil)
			if res.Status != flow.Failed {
				t.Fatalf("status %s, want FAILED", res.Status)
			}
			if got := flow.StepOf(res.Err); got != "main/c" {
				t.Errorf("error step %q, want main/c", got)
			}
			for _, w := range tc.wants {
				if !strings.Contains(res.Err.Error(), w) {
					t.Errorf("error %q does not mention %q", res.Err, w)
				}
			}
			if started(rec, "main/c/x") {
				t.Error("the called flow ran despite bad params")
			}
		})
	}
}

func TestCallChildFailure(t *testing.T) {
	res, rec, _ := runFile(t, map[string]string{
		"main.flow.hcl": `
flow "t" {
  call "c" { flow = "bad.flow.hcl" }
  log "after" { message = "after" }
}`,
		"bad.flow.hcl": `flow "bad" {
  sequential "s" {
    fail "f" { message = "deep trouble" }
  }
}`,
	}, nil)
	mustFail(t, res, flow.KindFail, "main/c/s/f", "deep trouble")
	if started(rec, "main/after") {
		t.Error("a step after the failed call started")
	}
}

func TestCallMissingFile(t *testing.T) {
	t.Run("static", func(t *testing.T) {
		dir := flowtest.Write(t, map[string]string{"main.flow.hcl": `
flow "t" {
  call "c" { flow = "nowhere.flow.hcl" }
}`})
		_, diags := flowtest.LoadFile(t, dir+"/main.flow.hcl")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "nowhere.flow.hcl") {
			t.Errorf("diagnostics %v", diags)
		}
	})
	t.Run("computed", func(t *testing.T) {
		res, _, _ := runFile(t, map[string]string{"main.flow.hcl": `
flow "t" {
  param "which" { type = string }
  call "c" { flow = "${param.which}.flow.hcl" }
}`}, map[string]cty.Value{"which": cty.StringVal("nowhere")})
		mustFail(t, res, flow.KindFailed, "main/c", "nowhere.flow.hcl")
		if strings.Contains(res.Err.Error(), "<nil>") {
			t.Errorf("error %q shows a missing position as <nil>", res.Err)
		}
	})
}

func TestCallCycleAtRunTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"self", map[string]string{
			"main.flow.hcl": `
flow "t" {
  param "me" {
    type    = string
    default = "main"
  }
  call "again" { flow = "${param.me}.flow.hcl" }
}`,
		}},
		{"mutual", map[string]string{
			"main.flow.hcl": `
flow "t" {
  param "next" {
    type    = string
    default = "b"
  }
  log "enter" { message = "main" }
  call "c" {
    flow   = "${param.next}.flow.hcl"
    params = { back = "main" }
  }
}`,
			"b.flow.hcl": `
flow "b" {
  param "back" { type = string }
  log "enter" { message = "b" }
  call "c" { flow = "${param.back}.flow.hcl" }
}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The path is computed, so the static check cannot see the cycle.
			res, rec, _ := runFile(t, tc.files, nil)
			mustFail(t, res, flow.KindFailed, "", "Call cycle", "main.flow.hcl")
			if strings.Contains(res.Err.Error(), "<nil>") {
				t.Errorf("error %q shows a missing position as <nil>", res.Err)
			}
			if n := len(rec.Messages()); n > 2 {
				t.Errorf("the cycle ran %d times: %q", n, rec.Messages())
			}
		})
	}
}

func TestCallStaticCycle(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{
		"main.flow.hcl": `
flow "t" {
  call "c" { flow = "b.flow.hcl" }
}`,
		"b.flow.hcl": `
flow "b" {
  call "c" { flow = "main.flow.hcl" }
}`,
	})
	_, diags := flowtest.LoadFile(t, dir+"/main.flow.hcl")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "cycle") {
		t.Errorf("diagnostics %v", diags)
	}
}
