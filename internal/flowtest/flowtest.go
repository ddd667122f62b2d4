// Package flowtest helps tests load and run flows written inline.
package flowtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	_ "github.com/flowbatch/flow/decorators" // the standard decorators
	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/steps" // the standard step types
)

// Write writes files (name → content) into a new temporary directory and
// returns its path.
func Write(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Load loads src as main.flow.hcl in a temporary directory and fails the
// test on any diagnostic.
func Load(t testing.TB, src string) *flow.Flow {
	t.Helper()
	dir := Write(t, map[string]string{"main.flow.hcl": src})
	f, diags := LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	return f
}

// LoadFile loads a flow file and returns its only flow with the diagnostics.
func LoadFile(t testing.TB, path string) (*flow.Flow, hcl.Diagnostics) {
	t.Helper()
	set, diags := flow.Load(path, nil)
	if diags.HasErrors() {
		return nil, diags
	}
	f, err := set.Only()
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return f, diags
}

// Diags loads src and returns its diagnostics as text (nil when clean).
func Diags(t testing.TB, src string) hcl.Diagnostics {
	t.Helper()
	dir := Write(t, map[string]string{"main.flow.hcl": src})
	_, diags := flow.Load(filepath.Join(dir, "main.flow.hcl"), nil)
	return diags
}

// Recorder keeps a run's events.
type Recorder struct {
	mu     sync.Mutex
	Events []flow.Event
}

// Observe records e.
func (r *Recorder) Observe(e flow.Event) {
	r.mu.Lock()
	r.Events = append(r.Events, e)
	r.mu.Unlock()
}

// Of returns the events of one kind, in order.
func (r *Recorder) Of(kind flow.EventKind) []flow.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []flow.Event
	for _, e := range r.Events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// Paths returns the step paths of the events of one kind, in order.
func (r *Recorder) Paths(kind flow.EventKind) []string {
	var out []string
	for _, e := range r.Of(kind) {
		out = append(out, e.Path)
	}
	return out
}

// Messages returns the messages of log steps, in order.
func (r *Recorder) Messages() []string {
	var out []string
	for _, e := range r.Of(flow.StepLog) {
		out = append(out, e.Message)
	}
	return out
}

// Run loads src and runs it with params; the run must end within a minute.
func Run(t testing.TB, src string, params map[string]cty.Value) (*flow.Result, *Recorder) {
	t.Helper()
	return RunFlow(t, context.Background(), Load(t, src), params)
}

// RunFlow runs f with params under ctx, with a one-minute guard.
func RunFlow(t testing.TB, ctx context.Context, f *flow.Flow, params map[string]cty.Value) (*flow.Result, *Recorder) {
	t.Helper()
	rec := &Recorder{}
	r, err := flow.NewEngine(rec).Start(ctx, f, flow.RunOptions{Params: params})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	select {
	case <-r.Done():
	case <-time.After(time.Minute):
		t.Fatal("run did not end within a minute")
	}
	return r.Wait(), rec
}

// Output returns a flow output as a Go string in HCL syntax, for compact
// assertions.
func Output(res *flow.Result, name string) string {
	v, ok := res.Outputs[name]
	if !ok {
		return "<missing>"
	}
	return strings.TrimSpace(flow.FormatValue(v))
}
