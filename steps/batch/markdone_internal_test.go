package batch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// markDone merges a chunk's items as a whole; the ranges must be those
// that inserting the items one at a time gives, whatever their order,
// duplicates and size.
func TestMarkDoneMatchesInsert(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(400)
		var tr tracker
		var want []Range
		for c := 0; c < 1+rng.IntN(8); c++ {
			seqs := make([]int64, rng.IntN(60))
			for i := range seqs {
				seqs[i] = int64(rng.IntN(n))
			}
			if rng.IntN(3) == 0 {
				slices.Sort(seqs) // as a plain (unpartitioned) chunk
			}
			tr.markDone(seqs)
			for _, s := range seqs {
				want = insertRange(want, Range{s, s + 1})
			}
			if !slices.Equal(tr.done, want) {
				t.Fatalf("seed %d, chunk %d %v: %v, want %v", seed, c, seqs, tr.done, want)
			}
		}
	}
}

func TestMergeRanges(t *testing.T) {
	tests := []struct {
		a, b, want []Range
	}{
		{nil, nil, nil},
		{[]Range{{0, 2}}, nil, []Range{{0, 2}}},
		{nil, []Range{{3, 4}}, []Range{{3, 4}}},
		{[]Range{{0, 2}}, []Range{{2, 4}}, []Range{{0, 4}}},         // touching
		{[]Range{{0, 5}}, []Range{{1, 2}, {3, 4}}, []Range{{0, 5}}}, // inside
		{[]Range{{0, 1}, {5, 6}}, []Range{{2, 3}}, []Range{{0, 1}, {2, 3}, {5, 6}}},
		{[]Range{{0, 1}, {4, 6}}, []Range{{1, 4}, {8, 9}}, []Range{{0, 6}, {8, 9}}},
	}
	for _, tc := range tests {
		if got := mergeRanges(nil, tc.a, tc.b); !slices.Equal(got, tc.want) {
			t.Errorf("mergeRanges(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
