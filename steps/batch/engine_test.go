package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/flowbatch/flow/steps/batch"
)

// ints loads 0..n-1 and can seek: the smallest resumable loader.
type ints struct {
	mu   sync.Mutex
	next int
	n    int
}

func (l *ints) Load(c *batch.Chunk, max int) ([]int, error) {
	var out []int
	for len(out) < max && l.next < l.n {
		out = append(out, l.next)
		l.next++
	}
	return out, nil
}

func (l *ints) Position() ([]byte, error) { return []byte(strconv.Itoa(l.next)), nil }
func (l *ints) Seek(p []byte) error {
	n, err := strconv.Atoi(string(p))
	l.next = n
	return err
}

// sink collects what is consumed, in commit order.
type sink struct {
	mu  sync.Mutex
	got []int
}

func (s *sink) Setup(t *batch.Task) error {
	t.OnCommit(func(c *batch.Chunk) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		out, _ := c.Values["out"].([]int)
		s.got = append(s.got, out...)
		return nil
	})
	return nil
}

func (s *sink) Consume(c *batch.Chunk, items []int) error {
	c.Values["out"] = append([]int(nil), items...)
	return nil
}

func double(c *batch.Chunk, i int, emit func(int)) error {
	if i%10 == 9 {
		return nil // filtered
	}
	emit(i * 2)
	return nil
}

func TestRunPlainAndPartitioned(t *testing.T) {
	for _, conc := range []int{1, 4} {
		for _, part := range []bool{false, true} {
			t.Run(fmt.Sprintf("conc%d-part%v", conc, part), func(t *testing.T) {
				s := &sink{}
				opts := batch.Options[int]{ChunkSize: 7, Concurrency: conc}
				if part {
					opts.PartitionBy = func(i int) (string, error) { return strconv.Itoa(i % 13), nil }
				}
				cnt, err := batch.Run[int, int](context.Background(), &ints{n: 1000}, batch.ProcessorFunc[int, int](double), s, opts)
				if err != nil {
					t.Fatal(err)
				}
				if cnt.Read != 1000 || cnt.Filter != 100 || cnt.Write != 900 {
					t.Errorf("counters %+v", cnt)
				}
				if len(s.got) != 900 {
					t.Fatalf("got %d outputs", len(s.got))
				}
				if conc == 1 && !sort.IntsAreSorted(s.got) {
					t.Error("concurrency 1 changed the order")
				}
				if part {
					last := map[int]int{}
					for _, v := range s.got {
						k := (v / 2) % 13
						if prev, ok := last[k]; ok && prev > v {
							t.Fatalf("key %d out of order: %d after %d", k, v, prev)
						}
						last[k] = v
					}
				}
			})
		}
	}
}

// A chunk with a bad item is retried, then isolated: only the bad item is
// skipped, every other item is written once.
func TestRetryIsolateSkip(t *testing.T) {
	s := &sink{}
	attempts := 0
	var skipped []batch.Skipped
	p := batch.ProcessorFunc[int, int](func(c *batch.Chunk, i int, emit func(int)) error {
		if i == 42 {
			attempts++
			return errors.New("bad 42")
		}
		emit(i)
		return nil
	})
	opts := batch.Options[int]{ChunkSize: 10, Retry: batch.RetryPolicy{MaxAttempts: 3},
		Skip: batch.SkipPolicy{Limit: 5, Log: func(s batch.Skipped) error { skipped = append(skipped, s); return nil }}}
	cnt, err := batch.Run[int, int](context.Background(), &ints{n: 100}, p, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.got) != 99 || cnt.ProcessSkip != 1 || cnt.Read != 100 || cnt.Write != 99 {
		t.Errorf("got %d outputs, counters %+v", len(s.got), cnt)
	}
	if attempts != 4 { // 3 whole-chunk attempts + 1 alone
		t.Errorf("item 42 processed %d times, want 4", attempts)
	}
	if len(skipped) != 1 || skipped[0].Seq != 42 || skipped[0].Stage != batch.StageProcess {
		t.Errorf("skipped %+v", skipped)
	}
	// Without a skip policy the run fails, naming the item.
	_, err = batch.Run[int, int](context.Background(), &ints{n: 100}, p, &sink{}, batch.Options[int]{ChunkSize: 10})
	var ie *batch.ItemError
	if !errors.As(err, &ie) || ie.Seq != 42 {
		t.Errorf("err = %v", err)
	}
}

// A run that fails part way resumes from its last checkpoint and writes
// every item exactly once in all.
func TestResumeFromCheckpoint(t *testing.T) {
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			s := &sink{}
			var last batch.Checkpoint
			fail := true
			p := batch.ProcessorFunc[int, int](func(c *batch.Chunk, i int, emit func(int)) error {
				if i == 555 && fail {
					return errors.New("boom")
				}
				emit(i)
				return nil
			})
			opts := batch.Options[int]{ChunkSize: 10, Concurrency: conc, OnCommit: func(cp batch.Checkpoint) error {
				// Through JSON, as the journal keeps it.
				b, _ := json.Marshal(cp)
				last = batch.Checkpoint{}
				return json.Unmarshal(b, &last)
			}}
			if _, err := batch.Run[int, int](context.Background(), &ints{n: 1000}, p, s, opts); err == nil {
				t.Fatal("first run did not fail")
			}
			fail = false
			opts.Resume = &last
			cnt, err := batch.Run[int, int](context.Background(), &ints{n: 1000}, p, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int]int{}
			for _, v := range s.got {
				seen[v]++
			}
			for i := 0; i < 1000; i++ {
				if seen[i] != 1 {
					t.Fatalf("item %d written %d times", i, seen[i])
				}
			}
			if cnt.Read != 1000 || cnt.Write != 1000 {
				t.Errorf("counters %+v", cnt)
			}
		})
	}
}
