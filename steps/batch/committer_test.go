package batch_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbatch/flow/steps/batch"
)

var doubler = batch.ProcessorFunc[int, int](func(_ *batch.Chunk, v int, emit func(int)) error {
	emit(2 * v)
	return nil
})

// With a lag, checkpoints are saved in order, the last one counts every
// item, and a resume from it does nothing again.
func TestCheckpointLagSavesInOrder(t *testing.T) {
	for _, lag := range []int{0, 1, 3} {
		for _, conc := range []int{1, 2} {
			var (
				mu   sync.Mutex
				cps  []batch.Checkpoint
				seen int64
			)
			opts := batch.Options[int]{ChunkSize: 10, Concurrency: conc, CheckpointLag: lag,
				OnCommit: func(cp batch.Checkpoint) error {
					mu.Lock()
					defer mu.Unlock()
					if cp.Counters.Read < seen {
						t.Errorf("lag %d, concurrency %d: a checkpoint of %d items after one of %d", lag, conc, cp.Counters.Read, seen)
					}
					seen = cp.Counters.Read
					cps = append(cps, cp)
					return nil
				}}
			s := &sink{}
			cnt, err := batch.Run[int, int](context.Background(), &ints{n: 995}, doubler, s, opts)
			if err != nil || cnt.Read != 995 {
				t.Fatalf("lag %d, concurrency %d: %+v, %v", lag, conc, cnt, err)
			}
			last := cps[len(cps)-1]
			if last.Counters.Read != 995 || last.Counters.Write != 995 || last.Seq != 995 {
				t.Fatalf("lag %d, concurrency %d: last checkpoint %+v", lag, conc, last)
			}
			if lag == 0 && len(cps) != 100 {
				t.Fatalf("lag 0 saved %d checkpoints, want one per chunk (100)", len(cps))
			}
			again := &sink{}
			opts.Resume = &last
			cnt, err = batch.Run[int, int](context.Background(), &ints{n: 995}, doubler, again, opts)
			if err != nil || len(again.got) != 0 || cnt.Read != 995 {
				t.Fatalf("lag %d, concurrency %d: the resume did %v again (%+v, %v)", lag, conc, again.got, cnt, err)
			}
		}
	}
}

// While a checkpoint is being saved the worker goes on, by at most lag
// chunks; then the checkpoints that piled up are saved as one.
func TestCheckpointLagBoundsTheWorker(t *testing.T) {
	const lag = 2
	release := make(chan struct{})
	var processed atomic.Int64
	var saves []int64
	var mu sync.Mutex
	proc := batch.ProcessorFunc[int, int](func(_ *batch.Chunk, v int, emit func(int)) error {
		processed.Add(1)
		emit(v)
		return nil
	})
	opts := batch.Options[int]{ChunkSize: 10, CheckpointLag: lag, OnCommit: func(cp batch.Checkpoint) error {
		mu.Lock()
		first := len(saves) == 0
		saves = append(saves, cp.Counters.Read)
		mu.Unlock()
		if first {
			<-release
		}
		return nil
	}}
	done := make(chan error, 1)
	go func() {
		_, err := batch.Run[int, int](context.Background(), &ints{n: 100}, proc, &sink{}, opts)
		done <- err
	}()
	// The first save blocks: the worker commits a second chunk (lag 2
	// counts the one being saved), processes a third and waits to hand
	// its checkpoint over.
	deadline := time.Now().Add(10 * time.Second)
	for processed.Load() < 30 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := processed.Load(); n != 30 {
		t.Fatalf("with the first save blocked, %d items were processed, want 30 (the saved chunk, %d more)", n, lag)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The first save may already cover two chunks (the saver's goroutine
	// may start after the second commit).
	if (saves[0] != 10 && saves[0] != 20) || saves[len(saves)-1] != 100 {
		t.Fatalf("saves counted %v items", saves)
	}
	for i := 1; i < len(saves); i++ {
		if saves[i] <= saves[i-1] {
			t.Fatalf("saves counted %v items", saves)
		}
	}
}

// A failed save fails the run, and nothing is saved after it.
func TestCheckpointLagSaveError(t *testing.T) {
	for _, lag := range []int{0, 1, 4} {
		var calls atomic.Int64
		opts := batch.Options[int]{ChunkSize: 10, CheckpointLag: lag, OnCommit: func(cp batch.Checkpoint) error {
			if calls.Add(1) == 2 {
				return errors.New("disk full")
			}
			return nil
		}}
		_, err := batch.Run[int, int](context.Background(), &ints{n: 1000}, doubler, &sink{}, opts)
		if err == nil || !strings.Contains(err.Error(), "checkpoint: disk full") {
			t.Fatalf("lag %d: %v", lag, err)
		}
		if n := calls.Load(); n != 2 {
			t.Fatalf("lag %d: %d saves, want none after the failed one", lag, n)
		}
	}
}
