package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/flowbatch/flow/steps/batch"
)

// lines is a Loader of strings that can tell where it is and go back
// there (a Seeker): what makes a run resumable.
type lines struct {
	all  []string
	next int
}

func (l *lines) Load(c *batch.Chunk, max int) ([]string, error) {
	n := min(max, len(l.all)-l.next)
	out := l.all[l.next : l.next+n]
	l.next += n
	return out, nil // empty: the input is done
}

func (l *lines) Position() ([]byte, error) { return []byte(strconv.Itoa(l.next)), nil }

func (l *lines) Seek(pos []byte) error {
	n, err := strconv.Atoi(string(pos))
	l.next = n
	return err
}

// printer is a Consumer that commits the NopBatch way: Consume keeps the
// chunk's items in c.Values, and a callback registered in Setup prints
// them when the chunk commits. A chunk that fails after Consume prints
// nothing.
type printer struct{}

func (printer) Setup(t *batch.Task) error {
	t.OnCommit(func(c *batch.Chunk) error {
		fmt.Printf("chunk %d: %s\n", c.Seq, strings.Join(c.Values["out"].([]string), " "))
		return nil
	})
	return nil
}

func (printer) Consume(c *batch.Chunk, items []string) error {
	c.Values["out"] = items
	return nil
}

// words turns a line into its words: zero, one or many outputs per item.
var words = batch.ProcessorFunc[string, string](func(c *batch.Chunk, line string, emit func(string)) error {
	for _, w := range strings.Fields(line) {
		emit(strings.ToUpper(w))
	}
	return nil
})

// A batch without HCL: a loader, a processor and a consumer, run in chunks
// of two lines. The empty line emits nothing and counts as filtered.
func Example() {
	in := &lines{all: []string{"the quick", "", "brown fox", "jumps"}}
	cnt, err := batch.Run[string, string](context.Background(), in, words, printer{},
		batch.Options[string]{ChunkSize: 2})
	if err != nil {
		fmt.Println("error:", err)
	}
	fmt.Printf("read %d, written %d, filtered %d, commits %d\n", cnt.Read, cnt.Write, cnt.Filter, cnt.Commit)
	// Output:
	// chunk 0: THE QUICK
	// chunk 1: BROWN FOX JUMPS
	// read 4, written 5, filtered 1, commits 2
}

// A run stopped after its first chunk, resumed from the checkpoint it
// saved: the second run starts at the watermark and writes each chunk once.
func Example_resume() {
	all := []string{"a", "b", "c", "d", "e"}
	var saved []byte // where a program would keep its checkpoint durably
	stop := make(chan struct{})
	opts := batch.Options[string]{ChunkSize: 2, Stop: stop,
		OnCommit: func(cp batch.Checkpoint) error {
			var err error
			saved, err = json.Marshal(cp)
			close(stop) // ask to stop at the next chunk boundary
			return err
		}}
	_, err := batch.Run[string, string](context.Background(), &lines{all: all}, words, printer{}, opts)
	fmt.Println("first run:", err, errors.Is(err, batch.ErrStopped))
	fmt.Println("checkpoint:", string(saved))

	var cp batch.Checkpoint
	if err := json.Unmarshal(saved, &cp); err != nil {
		fmt.Println(err)
		return
	}
	cnt, err := batch.Run[string, string](context.Background(), &lines{all: all}, words, printer{},
		batch.Options[string]{ChunkSize: 2, Resume: &cp})
	fmt.Println("second run:", err, "- read in all:", cnt.Read)
	// Output:
	// chunk 0: A B
	// first run: batch stopped true
	// checkpoint: {"position":"Mg==","seq":2,"batch":1,"counters":{"read":2,"write":2,"filter":0,"commit":1,"rollback":0,"read_skip":0,"process_skip":0,"write_skip":0}}
	// chunk 0: C D
	// chunk 1: E
	// second run: <nil> - read in all: 5
}

// A chunk that fails is retried whole, then run one item at a time: the
// good items commit, the bad one goes to the skip policy.
func Example_skip() {
	picky := batch.ProcessorFunc[string, string](func(c *batch.Chunk, s string, emit func(string)) error {
		if s == "bad" {
			return errors.New("not a word I like")
		}
		emit(s)
		return nil
	})
	opts := batch.Options[string]{ChunkSize: 3,
		Retry: batch.RetryPolicy{MaxAttempts: 2},
		Skip: batch.SkipPolicy{Limit: 1, On: []batch.Stage{batch.StageProcess},
			Log: func(s batch.Skipped) error {
				fmt.Printf("skipped item %d (%s stage): %v\n", s.Seq+1, s.Stage, s.Err)
				return nil
			}}}
	in := &lines{all: []string{"one", "bad", "two", "three"}}
	cnt, err := batch.Run[string, string](context.Background(), in, picky, printer{}, opts)
	fmt.Println("error:", err)
	fmt.Printf("read %d, written %d, process_skip %d, rollbacks %d, commits %d\n",
		cnt.Read, cnt.Write, cnt.ProcessSkip, cnt.Rollback, cnt.Commit)
	// Output:
	// chunk 0: one
	// skipped item 2 (process stage): not a word I like
	// chunk 0: two
	// chunk 1: three
	// error: <nil>
	// read 4, written 3, process_skip 1, rollbacks 3, commits 3
}
