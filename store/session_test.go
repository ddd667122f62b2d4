package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/memory"
)

// A failed execution resumes where it stopped: completed steps are not run
// again, the variables they set are back, and the failed step runs again.
func TestSessionResume(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{"main.flow.hcl": `
flow "r" {
  param "day" { type = string }
  vars = { total = 0 }
  exec "one" { command = ["sh", "-c", "echo one >> log"] }
  set "add" { assign = { total = var.total + 5 } }
  loop "l" {
    vars  = { i = 0 }
    while = var.i < 3
    set "inc" { assign = { i = var.i + 1, total = var.total + 1 } }
    exec "mark" { command = ["sh", "-c", "echo l${var.i} >> log"] }
  }
  exec "gate" { command = ["sh", "-c", "echo gate >> log; test -f ok"] }
  output "total" { value = var.total }
  output "iters" { value = step.l.iterations }
}`})
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st := memory.New()
	params := map[string]cty.Value{"day": cty.StringVal("2026-11-20")}
	run := func() *flow.Result {
		s, err := store.Begin(context.Background(), st, f, params, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Start(context.Background(), flow.NewEngine(nil), f, params)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Wait(context.Background(), r, f)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(); res.Status != flow.Failed {
		t.Fatalf("first run: %s %v", res.Status, res.Err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := run()
	if res.Status != flow.Completed {
		t.Fatalf("resume: %s %v", res.Status, res.Err)
	}
	if got := flowtest.Output(res, "total"); got != "8" {
		t.Errorf("total = %s, want 8", got)
	}
	if got := flowtest.Output(res, "iters"); got != "3" {
		t.Errorf("iters = %s, want 3", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	if got, want := strings.Fields(string(b)), []string{"one", "l1", "l2", "l3", "gate", "gate"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("side effects %v, want %v", got, want)
	}
	if _, err := store.Begin(context.Background(), st, f, params, store.Options{}); err == nil {
		t.Error("a completed instance started again")
	}
}
