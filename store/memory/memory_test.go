package memory_test

import (
	"fmt"
	"testing"

	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/memory"
	"github.com/flowbatch/flow/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memory.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := memory.New()
			defer s.Close()
			storetest.BenchmarkCommit(b, s, n)
		})
	}
}
