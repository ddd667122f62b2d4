package main

// Workload 6: what the engine costs a trivial step: a loop of N
// iterations of a set step, and a fork of N items of one set step each at
// max_concurrency 8, durable in bbolt, in the in-memory store, or with no
// journal.

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

const loopFlow = `flow "bench_loop" {
  param "n" {
    type = number
  }
  vars = { i = 0 }

  loop "l" {
    while          = var.i < param.n
    max_iterations = param.n + 1

    set "inc" {
      assign = { i = var.i + 1 }
    }
  }

  output "i" {
    value = var.i
  }
}
`

const forkFlow = `flow "bench_fork" {
  param "n" {
    type = number
  }

  fork "f" {
    # range() makes at most 1024 values: N as hundreds of hundreds.
    for_each        = [for x in flatten([for i in range(ceil(param.n / 100)) : [for j in range(100) : i * 100 + j]]) : x if x < param.n]
    max_concurrency = 8

    set "one" {
      vars   = { x = 0 }
      assign = { x = each.value }
    }
  }

  output "items" {
    value = length(step.f.results)
  }
}
`

func prepOverhead(_ context.Context, s *spec) (*prepared, error) {
	src, out := loopFlow, "i"
	if s.Kind == "fork" {
		src, out = forkFlow, "items"
	}
	f, err := loadFlow(s.Dir, s.Kind+".flow.hcl", src)
	if err != nil {
		return nil, err
	}
	params := map[string]cty.Value{"n": cty.NumberIntVal(int64(s.N))}
	return &prepared{body: func(ctx context.Context) (*sample, error) {
		res, err := runFlow(ctx, f, params, s.Store, s.Dir)
		if err != nil {
			return nil, err
		}
		got, err := intOutput(res, out)
		if err != nil {
			return nil, err
		}
		if got != int64(s.N) {
			return nil, fmt.Errorf("output %s = %d, want %d", out, got, s.N)
		}
		return &sample{Records: got}, nil
	}}, nil
}
