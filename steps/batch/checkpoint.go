package batch

import (
	"slices"
	"sort"
)

// Checkpoint is how far a run got: enough to resume it without losing or
// repeating an item. Chunks commit out of order when workers run
// concurrently, so it is a watermark — the load batch holding the first
// item not yet committed, with the reader position at its start — plus the
// items committed beyond it.
type Checkpoint struct {
	// Position is the reader position at the start of the watermark batch
	// (nil: the start of the input).
	Position []byte `json:"position,omitempty"`
	// Seq is the number of the first item of that batch.
	Seq int64 `json:"seq"`
	// Batch is the index of that batch.
	Batch int64 `json:"batch"`
	// Done lists the items at or after Seq that are committed, as ranges.
	Done     []Range  `json:"done,omitempty"`
	Counters Counters `json:"counters"`
	// Writers holds each writer's own state (its committed byte offset) by
	// writer name.
	Writers map[string][]byte `json:"writers,omitempty"`
}

// Range is the items [From, To).
type Range struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// contains reports whether seq is in one of the ranges.
func contains(rs []Range, seq int64) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].To > seq })
	return i < len(rs) && rs[i].From <= seq
}

// loadBatch is one Load call's worth of items.
type loadBatch struct {
	index     int64
	from, to  int64 // items [from, to)
	position  []byte
	readSkips int64
}

// tracker computes checkpoints from the batches loaded and the items
// committed. It is guarded by the runner's mutex.
type tracker struct {
	batches []loadBatch // not yet wholly committed, in load order
	done    []Range     // committed items, merged and sorted
	// Scratch space of markDone, kept between calls.
	sorted []int64
	adding []Range
	merged []Range
}

func (t *tracker) addBatch(b loadBatch) { t.batches = append(t.batches, b) }

// markDone records items as committed. A chunk's items are sorted and
// made into ranges, then merged with the committed ones in one pass:
// inserting them one at a time shifted the ranges once per item when a
// partitioned chunk's items are scattered over the input.
func (t *tracker) markDone(seqs []int64) {
	if len(seqs) < 8 {
		for _, s := range seqs {
			t.done = insertRange(t.done, Range{s, s + 1})
		}
		return
	}
	t.sorted = append(t.sorted[:0], seqs...)
	slices.Sort(t.sorted)
	add := t.adding[:0]
	for _, s := range t.sorted {
		if n := len(add); n > 0 && s <= add[n-1].To {
			add[n-1].To = max(add[n-1].To, s+1)
			continue
		}
		add = append(add, Range{s, s + 1})
	}
	t.adding = add
	// The merged ranges go to the spare slice, which becomes done; the old
	// done is the next spare (checkpoints copy ranges, nothing else keeps
	// them).
	t.merged = mergeRanges(t.merged[:0], t.done, add)
	t.done, t.merged = t.merged, t.done
}

// mergeRanges appends to out the union of a and b, two sorted lists of
// merged ranges, merged in turn (touching ranges become one).
func mergeRanges(out, a, b []Range) []Range {
	for len(a) > 0 || len(b) > 0 {
		var r Range
		if len(b) == 0 || (len(a) > 0 && a[0].From <= b[0].From) {
			r, a = a[0], a[1:]
		} else {
			r, b = b[0], b[1:]
		}
		if n := len(out); n > 0 && r.From <= out[n-1].To {
			out[n-1].To = max(out[n-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

// insertRange adds r to the sorted, merged ranges rs, merging it with
// those it touches or overlaps. It works in place: rs must not be shared.
func insertRange(rs []Range, r Range) []Range {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].To >= r.From })
	j := i
	for j < len(rs) && rs[j].From <= r.To {
		if rs[j].From < r.From {
			r.From = rs[j].From
		}
		if rs[j].To > r.To {
			r.To = rs[j].To
		}
		j++
	}
	if i == j {
		// A new range between others: shift the rest up by one. (Making
		// a new slice for every item was quadratic: with partitions, a
		// chunk's items are scattered and the ranges many.)
		rs = append(rs, Range{})
		copy(rs[i+1:], rs[i:])
		rs[i] = r
		return rs
	}
	rs[i] = r
	return append(rs[:i+1], rs[j:]...)
}

// advance drops the batches wholly committed from the front and returns
// the read skips they carried (counted once their batch is behind the
// watermark, so that a resume re-reading a batch does not count them twice).
func (t *tracker) advance() (readSkips int64) {
	for len(t.batches) > 0 {
		b := t.batches[0]
		if b.to > b.from && !(len(t.done) > 0 && t.done[0].From <= b.from && t.done[0].To >= b.to) {
			break
		}
		readSkips += b.readSkips
		t.batches = t.batches[1:]
	}
	return readSkips
}

// checkpoint returns the checkpoint as of now. next is the batch that
// would be loaded next when every loaded batch is committed.
func (t *tracker) checkpoint(next loadBatch) Checkpoint {
	w := next
	if len(t.batches) > 0 {
		w = t.batches[0]
	}
	cp := Checkpoint{Position: w.position, Seq: w.from, Batch: w.index}
	for _, r := range t.done {
		if r.To <= w.from {
			continue
		}
		if r.From < w.from {
			r.From = w.from
		}
		cp.Done = append(cp.Done, r)
	}
	return cp
}
