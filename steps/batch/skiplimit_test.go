package batch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/flowbatch/flow/steps/batch"
)

// The skip limit counts the items skipped by the executions before a
// resume: a run stopped after one skip may skip limit-1 more, not limit.
func TestSkipLimitAcrossResume(t *testing.T) {
	bad := batch.ProcessorFunc[int, int](func(c *batch.Chunk, i int, emit func(int)) error {
		if i%10 == 0 {
			return errors.New("bad")
		}
		emit(i)
		return nil
	})
	const limit = 5
	var last batch.Checkpoint
	opts := stopAfter(3, &last, batch.Options[int]{ChunkSize: 10, Skip: batch.SkipPolicy{Limit: limit}})
	if _, err := batch.Run[int, int](context.Background(), &ints{n: 100}, bad, &sink{}, opts); !errors.Is(err, batch.ErrStopped) {
		t.Fatalf("first run: %v, want stopped", err)
	}
	before := last.Counters.Skips()
	if before == 0 {
		t.Fatal("the first run skipped nothing: the test checks nothing")
	}
	cnt, err := batch.Run[int, int](context.Background(), &ints{n: 100}, bad, &sink{},
		batch.Options[int]{ChunkSize: 10, Skip: batch.SkipPolicy{Limit: limit}, Resume: &last})
	if err == nil {
		t.Fatalf("resumed run completed with %d skips in all; limit %d", cnt.Skips(), limit)
	}
	if cnt.Skips() != limit {
		t.Errorf("%d items skipped in all, want the limit, %d (error: %v)", cnt.Skips(), limit, err)
	}
}
