package batch_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbatch/flow/steps/batch"
)

// aheadInts is ints that lets the engine load ahead, and watches that
// nothing loads once Run has returned.
type aheadInts struct {
	ints
	loading atomic.Int32
	after   atomic.Bool // set by the test once Run returned
	late    atomic.Int32
	failAt  int // Load fails once next reaches it (0: never)
	slow    time.Duration
}

func (l *aheadInts) ReadAhead() bool { return true }

func (l *aheadInts) Load(c *batch.Chunk, max int) ([]int, error) {
	l.loading.Add(1)
	defer l.loading.Add(-1)
	if l.after.Load() {
		l.late.Add(1)
	}
	time.Sleep(l.slow)
	if l.failAt > 0 && l.next >= l.failAt {
		return nil, errors.New("disk gone")
	}
	return l.ints.Load(c, max)
}

func TestReadAhead(t *testing.T) {
	for _, conc := range []int{1, 2, 3} {
		l := &aheadInts{ints: ints{n: 1234}}
		s := &sink{}
		var last batch.Checkpoint
		cnt, err := batch.Run[int, int](context.Background(), l, doubler, s,
			batch.Options[int]{ChunkSize: 10, Concurrency: conc, OnCommit: func(cp batch.Checkpoint) error { last = cp; return nil }})
		l.after.Store(true)
		if err != nil || cnt.Read != 1234 || len(s.got) != 1234 {
			t.Fatalf("concurrency %d: %+v, %d consumed, %v", conc, cnt, len(s.got), err)
		}
		if conc == 1 {
			for i, v := range s.got {
				if v != 2*i {
					t.Fatalf("concurrency 1: item %d is %d: out of order", i, v)
				}
			}
		}
		if last.Seq != 1234 || last.Counters.Read != 1234 {
			t.Fatalf("concurrency %d: last checkpoint %+v", conc, last)
		}
		if n := l.loading.Load(); n != 0 {
			t.Fatalf("concurrency %d: Run returned with %d loads running", conc, n)
		}
	}
}

// A load error fails the run; a stop ends it at a chunk boundary with a
// checkpoint that a resume carries on from, loading nothing after Run.
func TestReadAheadFailAndStop(t *testing.T) {
	l := &aheadInts{ints: ints{n: 1000}, failAt: 500}
	_, err := batch.Run[int, int](context.Background(), l, doubler, &sink{}, batch.Options[int]{ChunkSize: 10})
	if err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("got %v, want the load's error", err)
	}

	stop := make(chan struct{})
	var commits atomic.Int32
	var last batch.Checkpoint
	l = &aheadInts{ints: ints{n: 1000}, slow: time.Millisecond}
	s := &sink{}
	_, err = batch.Run[int, int](context.Background(), l, doubler, s, batch.Options[int]{ChunkSize: 10, Stop: stop,
		OnCommit: func(cp batch.Checkpoint) error {
			last = cp
			if commits.Add(1) == 5 {
				close(stop)
			}
			return nil
		}})
	l.after.Store(true)
	if !errors.Is(err, batch.ErrStopped) {
		t.Fatalf("got %v, want ErrStopped", err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := l.late.Load(); n != 0 || l.loading.Load() != 0 {
		t.Fatalf("%d loads after Run returned", n)
	}
	done := len(s.got)
	if int(last.Counters.Read) != done || last.Seq != int64(done) {
		t.Fatalf("stopped after %d items, checkpoint %+v", done, last)
	}
	r := &aheadInts{ints: ints{n: 1000}}
	again := &sink{}
	cnt, err := batch.Run[int, int](context.Background(), r, doubler, again, batch.Options[int]{ChunkSize: 10, Resume: &last})
	if err != nil || cnt.Read != 1000 || len(again.got) != 1000-done {
		t.Fatalf("resume: %+v, %d consumed, %v", cnt, len(again.got), err)
	}
	if again.got[0] != 2*done {
		t.Fatalf("resume starts at %d, want %d", again.got[0]/2, done)
	}
}

// The partition dispatcher loads ahead too: once Run has returned it
// loads nothing more, whether the run ended, failed or was stopped.
func TestDispatcherStopsLoading(t *testing.T) {
	key := func(v int) (string, error) { return strconv.Itoa(v % 7), nil }
	for _, tc := range []string{"end", "fail", "stop"} {
		l := &aheadInts{ints: ints{n: 2000}, slow: 200 * time.Microsecond}
		opts := batch.Options[int]{ChunkSize: 10, Concurrency: 2, PartitionBy: key}
		switch tc {
		case "fail":
			l.failAt = 600
		case "stop":
			stop := make(chan struct{})
			var n atomic.Int32
			opts.Stop = stop
			opts.OnCommit = func(batch.Checkpoint) error {
				if n.Add(1) == 5 {
					close(stop)
				}
				return nil
			}
		}
		_, err := batch.Run[int, int](context.Background(), l, doubler, &sink{}, opts)
		l.after.Store(true)
		if (tc == "end") != (err == nil) {
			t.Fatalf("%s: %v", tc, err)
		}
		if n := l.loading.Load(); n != 0 {
			t.Fatalf("%s: Run returned with %d loads running", tc, n)
		}
		time.Sleep(10 * time.Millisecond)
		if n := l.late.Load(); n != 0 {
			t.Fatalf("%s: %d loads after Run returned", tc, n)
		}
	}
}
