package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// BenchmarkCommit measures Commit of n small step records at a time, as a
// loop of many small steps writes them: new paths each time, no
// execution record. It reports the cost per record beside the cost per
// commit (ns/op).
func BenchmarkCommit(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	at := now()
	begun, err := s.Begin(ctx, request("bench", "k", owner("bench", at), at))
	if err != nil {
		b.Fatal(err)
	}
	id := begun.Execution.ID
	recs := make([]store.StepRecord, n)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for j := range recs {
			recs[j] = store.StepRecord{
				Path:    fmt.Sprintf("main/loop#%d/step", i),
				Type:    "set",
				Status:  flow.Completed,
				Attempt: 1,
				Started: at,
				Ended:   at,
				Outputs: json.RawMessage(`{"n":{"type":"number","value":1}}`),
			}
			i++
		}
		if err := s.Commit(ctx, id, nil, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/record")
}
