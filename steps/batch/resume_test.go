package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/steps/batch"
)

// Regressions found by the kill -9 test of the batch step
// (internal/chaos/batch_test.go): a resumed run read items twice.

// stopAfter returns options that stop the run at the chunk boundary after
// the given number of commits, keeping the last checkpoint (through JSON,
// as the journal keeps it) in *last.
func stopAfter(commits int, last *batch.Checkpoint, opts batch.Options[int]) batch.Options[int] {
	stop := make(chan struct{})
	n := 0
	opts.Stop = stop
	opts.OnCommit = func(cp batch.Checkpoint) error {
		b, err := json.Marshal(cp)
		if err != nil {
			return err
		}
		*last = batch.Checkpoint{}
		if err := json.Unmarshal(b, last); err != nil {
			return err
		}
		if n++; n == commits {
			close(stop)
		}
		return nil
	}
	return opts
}

func wantOnce(t *testing.T, got []int, n int) {
	t.Helper()
	seen := map[int]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := 0; i < n; i++ {
		if seen[i] != 1 {
			t.Fatalf("item %d written %d times (%d outputs in all)", i, seen[i], len(got))
		}
	}
	if len(got) != n {
		t.Fatalf("%d outputs, want %d", len(got), n)
	}
}

var identity = batch.ProcessorFunc[int, int](func(c *batch.Chunk, i int, emit func(int)) error {
	emit(i)
	return nil
})

// A checkpoint taken when every loaded batch is committed (a stop or a
// kill between chunks) must hold the reader's position: it used to hold
// none, and the resumed run read the input again from its start.
func TestResumeAfterWholeBatches(t *testing.T) {
	for _, tc := range []struct {
		conc int
		part bool
	}{{1, false}, {2, false}, {2, true}} {
		t.Run(fmt.Sprintf("conc%d-part%v", tc.conc, tc.part), func(t *testing.T) {
			s := &sink{}
			var last batch.Checkpoint
			opts := batch.Options[int]{ChunkSize: 10, Concurrency: tc.conc}
			if tc.part {
				opts.PartitionBy = func(i int) (string, error) { return strconv.Itoa(i % 7), nil }
			}
			_, err := batch.Run[int, int](context.Background(), &ints{n: 200}, identity, s, stopAfter(3, &last, opts))
			if !errors.Is(err, batch.ErrStopped) {
				t.Fatalf("first run: %v", err)
			}
			if tc.conc == 1 && (last.Seq != 30 || last.Position == nil) {
				t.Errorf("checkpoint after 3 whole chunks: seq %d, position %q; want 30 and a position", last.Seq, last.Position)
			}
			opts.Resume = &last
			cnt, err := batch.Run[int, int](context.Background(), &ints{n: 200}, identity, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			wantOnce(t, s.got, 200)
			if cnt.Read != 200 || cnt.Write != 200 {
				t.Errorf("counters %+v", cnt)
			}
		})
	}
}

// A resumed run that stops again before it reads the items committed
// beyond the watermark must keep them in its checkpoints: it used to keep
// only those it had read again, and the next resume processed the others
// a second time.
func TestResumeKeepsDoneBeyondWatermark(t *testing.T) {
	// As a first run left it: items 1-9 and 20-29 committed, 0 and 10-19
	// not (chunks commit out of order with concurrency).
	s := &sink{}
	for i := 1; i < 30; i++ {
		if i < 10 || i >= 20 {
			s.got = append(s.got, i)
		}
	}
	cp := batch.Checkpoint{Position: []byte("0"), Seq: 0, Batch: 0,
		Done:     []batch.Range{{From: 1, To: 10}, {From: 20, To: 30}},
		Counters: batch.Counters{Read: 19, Write: 19, Commit: 2}}
	var last batch.Checkpoint
	opts := batch.Options[int]{ChunkSize: 10, Resume: &cp}
	_, err := batch.Run[int, int](context.Background(), &ints{n: 100}, identity, s, stopAfter(1, &last, opts))
	if !errors.Is(err, batch.ErrStopped) {
		t.Fatalf("second run: %v", err)
	}
	// It committed item 0, so the watermark moved to 10; 20-29 are still done.
	if last.Seq != 10 || len(last.Done) != 1 || last.Done[0] != (batch.Range{From: 20, To: 30}) {
		t.Fatalf("checkpoint after the resumed run's first chunk: seq %d, done %v; want 10 and [20, 30)", last.Seq, last.Done)
	}
	if last.Counters.Read != 20 {
		t.Errorf("read %d, want 20", last.Counters.Read)
	}
	opts = batch.Options[int]{ChunkSize: 10, Resume: &last}
	cnt, err := batch.Run[int, int](context.Background(), &ints{n: 100}, identity, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantOnce(t, s.got, 100)
	if cnt.Read != 100 || cnt.Write != 100 {
		t.Errorf("counters %+v", cnt)
	}
}

// A batch's retry block retries chunks: the step-level settings that do not
// apply to chunks are refused when the flow loads, not silently ignored.
func TestBatchRetryRefusesStepSettings(t *testing.T) {
	diags := flowtest.Diags(t, `
flow "f" {
  batch "b" {
    retry {
      max_attempts = 2
      jitter       = 0.5
    }
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "out.csv" }
  }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `"jitter" is not supported`) {
		t.Fatalf("diags = %v", diags)
	}
}
