package steps_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"go.uber.org/goleak"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

func TestMain(m *testing.M) {
	flow.RegisterStep(probeType)
	goleak.VerifyTestMain(m)
}

// guard bounds every wait in these tests; it only detects hangs.
const guard = 10 * time.Second

// probe is a step type for tests: it counts how many probes of its group
// run at once, can wait for a signal from another probe and sends one when
// it ends.
//
//	probe "p" {
//	  group    = "g"    # the counters and signals it uses
//	  target   = 2      # wait until this many ran at once (the peak), then go on
//	  hold     = "5ms"  # then stay running this long
//	  wait_for = "x"    # first wait until a probe of the group signalled x
//	  signal   = "y"    # signal y when done
//	  block    = true   # then run until cancelled
//	}
var probeType = &flow.StepType{
	Name:    "probe",
	Summary: "A test step that measures concurrency.",
	Attrs: []flow.Attr{
		{Name: "group", Type: cty.String, Required: true},
		{Name: "target", Type: cty.Number, Default: cty.NumberIntVal(0)},
		{Name: "hold", Type: cty.String, Default: cty.StringVal("0s"), Duration: true},
		{Name: "wait_for", Type: cty.String},
		{Name: "signal", Type: cty.String},
		{Name: "block", Type: cty.Bool, Default: cty.False},
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runProbe), nil },
}

type gaugeT struct {
	mu      sync.Mutex
	cur     int
	peak    int
	signals map[string]chan struct{}
}

var (
	gaugesMu sync.Mutex
	gauges   = map[string]*gaugeT{}
)

// gauge returns the counters of a group, creating them.
func gauge(group string) *gaugeT {
	gaugesMu.Lock()
	defer gaugesMu.Unlock()
	g := gauges[group]
	if g == nil {
		g = &gaugeT{signals: map[string]chan struct{}{}}
		gauges[group] = g
	}
	return g
}

// freshGauge resets a group's counters; each test calls it with its own name.
func freshGauge(t *testing.T) (string, *gaugeT) {
	gaugesMu.Lock()
	delete(gauges, t.Name())
	gaugesMu.Unlock()
	return t.Name(), gauge(t.Name())
}

func (g *gaugeT) Peak() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

func (g *gaugeT) signal(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.signals[name]
	if c == nil {
		c = make(chan struct{})
		g.signals[name] = c
	}
	return c
}

func runProbe(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	group, err := x.String("group")
	if err != nil {
		return cty.NilVal, err
	}
	target, err := x.Int("target")
	if err != nil {
		return cty.NilVal, err
	}
	hold, err := x.Duration("hold")
	if err != nil {
		return cty.NilVal, err
	}
	waitFor, err := x.String("wait_for")
	if err != nil {
		return cty.NilVal, err
	}
	signal, err := x.String("signal")
	if err != nil {
		return cty.NilVal, err
	}
	block, err := x.Bool("block")
	if err != nil {
		return cty.NilVal, err
	}
	g := gauge(group)
	timer := time.NewTimer(guard)
	defer timer.Stop()
	if waitFor != "" {
		select {
		case <-g.signal(waitFor):
		case <-ctx.Done():
			return cty.NilVal, ctx.Err()
		case <-timer.C:
			return cty.NilVal, fmt.Errorf("probe: no signal %q within %s", waitFor, guard)
		}
	}
	g.mu.Lock()
	g.cur++
	g.peak = max(g.peak, g.cur)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.cur--
		g.mu.Unlock()
	}()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for g.Peak() < target {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return cty.NilVal, ctx.Err()
		case <-timer.C:
			return cty.NilVal, fmt.Errorf("probe: peak %d never reached target %d", g.Peak(), target)
		}
	}
	if hold > 0 {
		h := time.NewTimer(hold)
		defer h.Stop()
		select {
		case <-h.C:
		case <-ctx.Done():
			return cty.NilVal, ctx.Err()
		}
	}
	if signal != "" {
		c := g.signal(signal)
		g.mu.Lock()
		select {
		case <-c:
		default:
			close(c)
		}
		g.mu.Unlock()
	}
	if block {
		select {
		case <-ctx.Done():
			return cty.NilVal, ctx.Err()
		case <-timer.C:
			return cty.NilVal, fmt.Errorf("probe: not cancelled within %s", guard)
		}
	}
	return cty.EmptyObjectVal, nil
}

// run runs an inline flow and returns its result and events.
func run(t *testing.T, src string) (*flow.Result, *flowtest.Recorder) {
	t.Helper()
	return flowtest.Run(t, src, nil)
}

// runFile runs the flow in main.flow.hcl of a directory made of files.
func runFile(t *testing.T, files map[string]string, params map[string]cty.Value) (*flow.Result, *flowtest.Recorder, string) {
	t.Helper()
	dir := flowtest.Write(t, files)
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	res, rec := flowtest.RunFlow(t, context.Background(), f, params)
	return res, rec, dir
}

// mustComplete fails the test unless the run completed.
func mustComplete(t *testing.T, res *flow.Result) {
	t.Helper()
	if res.Status != flow.Completed {
		t.Fatalf("status %s, want COMPLETED; error: %v", res.Status, res.Err)
	}
}

// mustFail fails the test unless the run failed with an error of kind at
// step (when not empty) whose text holds each of wants.
func mustFail(t *testing.T, res *flow.Result, kind, step string, wants ...string) {
	t.Helper()
	if res.Status != flow.Failed {
		t.Fatalf("status %s, want FAILED (outputs %v)", res.Status, res.Outputs)
	}
	t.Logf("error: %v", res.Err)
	if got := flow.KindOf(res.Err); got != kind {
		t.Errorf("error kind %q, want %q; error: %v", got, kind, res.Err)
	}
	if step != "" {
		if got := flow.StepOf(res.Err); got != step {
			t.Errorf("error step %q, want %q; error: %v", got, step, res.Err)
		}
	}
	for _, w := range wants {
		if !strings.Contains(res.Err.Error(), w) {
			t.Errorf("error %q does not mention %q", res.Err, w)
		}
	}
}

// wantOutput compares a flow output, formatted in HCL syntax.
func wantOutput(t *testing.T, res *flow.Result, name, want string) {
	t.Helper()
	if got := flowtest.Output(res, name); got != want {
		t.Errorf("output %s = %s, want %s", name, got, want)
	}
}

// started reports whether a step at path started.
func started(rec *flowtest.Recorder, path string) bool {
	for _, p := range rec.Paths(flow.StepStarted) {
		if p == path {
			return true
		}
	}
	return false
}

// eventOf returns the first event of kind for path, or nil.
func eventOf(rec *flowtest.Recorder, kind flow.EventKind, path string) *flow.Event {
	for _, e := range rec.Of(kind) {
		if e.Path == path {
			return &e
		}
	}
	return nil
}

// chanObserver sends the path of every started step to a channel (dropping
// them when nobody listens) and records all events.
type chanObserver struct {
	flowtest.Recorder
	started chan string
}

func newChanObserver() *chanObserver { return &chanObserver{started: make(chan string, 100)} }

func (o *chanObserver) Observe(e flow.Event) {
	o.Recorder.Observe(e)
	if e.Kind == flow.StepStarted {
		select {
		case o.started <- e.Path:
		default:
		}
	}
}

// waitStarted waits until every path in paths has started.
func (o *chanObserver) waitStarted(t *testing.T, paths ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	timer := time.NewTimer(guard)
	defer timer.Stop()
	for len(want) > 0 {
		select {
		case p := <-o.started:
			delete(want, p)
		case <-timer.C:
			t.Fatalf("steps %v did not start", want)
		}
	}
}

// waitDone waits for a run to end and returns its result.
func waitDone(t *testing.T, r *flow.Run) *flow.Result {
	t.Helper()
	select {
	case <-r.Done():
	case <-time.After(guard):
		t.Fatalf("run did not end within %s", guard)
	}
	return r.Wait()
}

// executable writes an executable script into dir.
func executable(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}
