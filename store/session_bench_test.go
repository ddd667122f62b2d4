package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
	"github.com/flowbatch/flow/store/memory"
)

const loopFlow = `
flow "bench" {
  param "n" { type = number }
  vars = { i = 0 }
  loop "l" {
    while          = var.i < param.n
    max_iterations = param.n + 1
    set "inc" { assign = { i = var.i + 1 } }
  }
}`

// BenchmarkDurableStep measures what durability costs a trivial step: one
// loop iteration holding one set step, run with no journal, with the
// in-memory store and with the bbolt store (group commits every 200ms, so
// a commit's fsync is shared by many steps). ns/op is per iteration.
func BenchmarkDurableStep(b *testing.B) {
	f := flowtest.Load(b, loopFlow)
	cases := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"none", nil},
		{"memory", func(b *testing.B) store.Store { return memory.New() }},
		{"bolt", func(b *testing.B) store.Store {
			st, err := bolt.Open(filepath.Join(b.TempDir(), "flow.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			params := map[string]cty.Value{"n": cty.NumberIntVal(int64(b.N))}
			b.ResetTimer()
			var res *flow.Result
			if c.open == nil {
				var err error
				res, err = flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{Params: params})
				if err != nil {
					b.Fatal(err)
				}
			} else {
				st := c.open(b)
				defer st.Close()
				s, err := store.Begin(context.Background(), st, f, params, store.Options{})
				if err != nil {
					b.Fatal(err)
				}
				r, err := s.Start(context.Background(), flow.NewEngine(nil), f, params)
				if err != nil {
					b.Fatal(err)
				}
				if res, err = s.Wait(context.Background(), r, f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if res.Status != flow.Completed {
				b.Fatalf("%s: %v", res.Status, res.Err)
			}
		})
	}
}
