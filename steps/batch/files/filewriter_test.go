package files

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// TestResumeKeepsCommittedItemsBeyondTheWatermark: a run resumed from a
// checkpoint with items committed beyond its watermark, which fails again
// before it loads them, must keep them in its own checkpoints; otherwise
// the next resume writes them a second time (what the exactly-once tests
// at concurrency 2 found in the engine).
func TestResumeKeepsCommittedItemsBeyondTheWatermark(t *testing.T) {
	s := mustSchema(t, record.Field{Name: "i"})
	var recs []*record.Record
	for i := 0; i < 100; i++ {
		recs = append(recs, &record.Record{Schema: s, Values: []record.Value{record.IntVal(int64(i))}})
	}
	fail := batch.ProcessorFunc[*record.Record, *record.Record](func(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
		if i, _ := r.Values[0].Int(); i == 20 {
			return errKilled
		}
		emit(r)
		return nil
	})
	var last batch.Checkpoint
	resume := &batch.Checkpoint{Position: []byte("0"), Done: []batch.Range{{From: 50, To: 60}}}
	_, err := batch.Run[*record.Record, *record.Record](context.Background(), &sliceLoader{recs: recs}, fail, &recordSink{},
		batch.Options[*record.Record]{ChunkSize: 7, Resume: resume, OnCommit: func(cp batch.Checkpoint) error { last = cp; return nil }})
	if !errors.Is(err, errKilled) {
		t.Fatalf("error %v", err)
	}
	if last.Seq > 20 || len(last.Done) == 0 || last.Done[len(last.Done)-1] != (batch.Range{From: 50, To: 60}) {
		t.Fatalf("last checkpoint %+v lost the items 50-59 committed before", last)
	}
}

// TestCheckpointsCarryThePosition: a checkpoint taken when every loaded
// batch is committed must say where the next one starts; with no
// position, a resume would re-read from the start of the input and number
// its items from Seq (the engine did so before).
func TestCheckpointsCarryThePosition(t *testing.T) {
	s := mustSchema(t, record.Field{Name: "i"})
	var recs []*record.Record
	for i := 0; i < 50; i++ {
		recs = append(recs, &record.Record{Schema: s, Values: []record.Value{record.IntVal(int64(i))}})
	}
	n := 0
	_, err := batch.Run[*record.Record, *record.Record](context.Background(), &sliceLoader{recs: recs}, passRecords, &recordSink{},
		batch.Options[*record.Record]{ChunkSize: 7, OnCommit: func(cp batch.Checkpoint) error {
			n++
			if cp.Seq > 0 && string(cp.Position) != strconv.FormatInt(cp.Seq, 10) {
				t.Errorf("checkpoint at item %d has position %q", cp.Seq, cp.Position)
			}
			return nil
		}})
	if err != nil || n == 0 {
		t.Fatal(err, n)
	}
}
