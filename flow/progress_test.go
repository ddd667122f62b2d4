package flow_test

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// memJournal keeps the last state recorded per path.
type memJournal struct {
	mu     sync.Mutex
	states map[string]flow.StepState
}

func (j *memJournal) Restore(string) (flow.StepState, bool) { return flow.StepState{}, false }
func (j *memJournal) Forget(string) error                   { return nil }
func (j *memJournal) Record(s flow.StepState, _ bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.states[s.Path] = s
	return nil
}

// The counters of a step's last progress event are kept with its state,
// so that flow show lists a batch step's counters.
func TestProgressCountersRecorded(t *testing.T) {
	reg := flow.NewRegistry()
	reg.RegisterStep(&flow.StepType{
		Name: "count",
		New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
			return flow.StepFunc(func(_ context.Context, x *flow.Exec) (cty.Value, error) {
				x.Emit(flow.Event{Kind: flow.StepProgress, Counters: map[string]int64{"read_count": 1}})
				x.Emit(flow.Event{Kind: flow.StepProgress, Counters: map[string]int64{"read_count": 7, "write_count": 6}})
				return cty.EmptyObjectVal, nil
			}), nil
		},
	})
	set, diags := flow.LoadFS(fstest.MapFS{"c.flow.hcl": {Data: []byte("flow \"c\" {\n  count \"n\" {}\n}\n")}}, "c.flow.hcl", reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	f, _ := set.Only()
	j := &memJournal{states: map[string]flow.StepState{}}
	res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{Journal: j})
	if err != nil || res.Status != flow.Completed {
		t.Fatalf("run: %v %v", err, res.Err)
	}
	st := j.states["main/n"]
	if st.Status != flow.Completed || st.Counters["read_count"] != 7 || st.Counters["write_count"] != 6 {
		t.Errorf("recorded state: %s, counters %v", st.Status, st.Counters)
	}
}
