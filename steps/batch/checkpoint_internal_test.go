package batch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// insertRange keeps ranges sorted and merged, whatever the order items
// come in: checked against a set of items.
func TestInsertRange(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		n := 1 + rng.IntN(300)
		var rs []Range
		set := make([]bool, n+10)
		for k := 0; k < n; k++ {
			from := int64(rng.IntN(n))
			to := from + 1 + int64(rng.IntN(3))
			rs = insertRange(rs, Range{from, to})
			for i := from; i < to; i++ {
				set[i] = true
			}
			// The model: maximal runs of the set.
			var want []Range
			for i := 0; i < len(set); i++ {
				if set[i] && (i == 0 || !set[i-1]) {
					want = append(want, Range{From: int64(i)})
				}
				if set[i] && (i == len(set)-1 || !set[i+1]) {
					want[len(want)-1].To = int64(i + 1)
				}
			}
			if !slices.Equal(rs, want) {
				t.Fatalf("seed %d, after [%d, %d): %v, want %v", seed, from, to, rs, want)
			}
		}
	}
}

func BenchmarkMarkDoneScattered(b *testing.B) {
	// A partitioned chunk: 1000 items scattered over 4000.
	rng := rand.New(rand.NewPCG(1, 2))
	seqs := make([]int64, 0, 4000)
	for i := int64(0); i < 4000; i++ {
		seqs = append(seqs, i)
	}
	rng.Shuffle(len(seqs), func(i, j int) { seqs[i], seqs[j] = seqs[j], seqs[i] })
	b.ReportAllocs()
	for b.Loop() {
		var tr tracker
		for c := 0; c < 4; c++ {
			tr.markDone(seqs[c*1000 : (c+1)*1000])
		}
	}
}
