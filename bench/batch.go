package main

// Workloads 0 to 4 and 8: the hand-written baseline, and the batch step
// (CSV reader, the standard transform T as a Go or a JavaScript processor,
// CSV writer) run in this process through the flow engine, durable in a
// bbolt store through store.Session as flow exec runs it, or with no
// journal at all.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	_ "github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/gen"
	_ "github.com/flowbatch/flow/script"
	_ "github.com/flowbatch/flow/steps"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
	"github.com/flowbatch/flow/store/memory"
)

// registerStandard registers T as processor "standard", as internal/flowx
// does.
func registerStandard() {
	batch.RegisterFunc("standard", gen.ProcessorSummary, gen.Process)
}

// jsNumberTransform is T in JavaScript with the amount as a number, as
// docs/javascript.md's example writes it: exact for amounts with two
// decimals (Math.round finds the cents), cheaper than decimals.
const jsNumberTransform = `
if (item.amount < 10) return;
return { id:   item.id,
  account:  item.account,
  cents:    Math.round(item.amount * 100),
  currency: item.currency.toLowerCase(),
  big:      item.amount > 5000,
};`

// batchFlow is the flow of workloads 1 to 4 and 8, with the processor
// block given: the CSV of the standard input, amount decimal, to a CSV.
// extra holds more attributes of the batch step ("" for none).
func batchFlow(processor, extra string) string {
	return `flow "bench_batch" {
  param "in" {
    type = string
  }
  param "out" {
    type = string
  }
  param "chunk_size" {
    type    = number
    default = 1000
  }
  param "concurrency" {
    type    = number
    default = 1
  }
  param "partition_by" {
    type    = string
    default = ""
  }

  batch "load" {
    chunk_size        = param.chunk_size
    concurrency       = param.concurrency
    partition_by      = param.partition_by
    progress_interval = "1h"
` + extra + `

    reader "csv" {
      path   = param.in
      schema = { amount = "decimal" }
    }
` + processor + `
    writer "csv" {
      path = param.out
    }
  }

  output "read" {
    value = step.load.read_count
  }
  output "write" {
    value = step.load.write_count
  }
}
`
}

func processorBlock(proc string) (string, error) {
	switch proc {
	case "go":
		return `    processor "standard" {}`, nil
	case "js":
		return jsBlock(gen.JSTransform), nil
	case "js-number":
		return jsBlock(jsNumberTransform), nil
	case "js-multiline":
		return jsBlock(gen.JSTransformMultiline), nil
	}
	return "", fmt.Errorf("unknown processor %q (go, js, js-number or js-multiline)", proc)
}

func jsBlock(code string) string {
	return "    processor \"js\" {\n      code = <<-JS\n" + indent(code, "        ") + "\n      JS\n    }"
}

func indent(s, by string) string {
	out := ""
	for _, l := range splitLines(s) {
		if l != "" {
			out += by + l
		}
		out += "\n"
	}
	return out[:len(out)-1]
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// loadFlow writes src to dir/name and loads it.
func loadFlow(dir, name, src string) (*flow.Flow, error) {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		return nil, err
	}
	set, diags := flow.Load(path, nil)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: %s", path, diags.Error())
	}
	return set.Only()
}

// runFlow runs f to its end: with no journal (store "none"), or durable
// in an in-memory or a bbolt store (a new file under dir), as flow exec.
func runFlow(ctx context.Context, f *flow.Flow, params map[string]cty.Value, kind, dir string) (*flow.Result, error) {
	var res *flow.Result
	switch kind {
	case "none", "":
		r, err := flow.NewEngine(nil).Run(ctx, f, flow.RunOptions{Params: params})
		if err != nil {
			return nil, err
		}
		res = r
	case "bolt", "memory":
		var st store.Store
		if kind == "bolt" {
			path := filepath.Join(dir, "flow.db")
			_ = os.Remove(path)
			b, err := bolt.Open(path, nil)
			if err != nil {
				return nil, err
			}
			st = b
		} else {
			st = memory.New()
		}
		defer st.Close()
		s, err := store.Begin(ctx, st, f, params, store.Options{})
		if err != nil {
			return nil, err
		}
		r, err := s.Start(ctx, flow.NewEngine(nil), f, params)
		if err != nil {
			return nil, err
		}
		if res, err = s.Wait(ctx, r, f); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown store %q (bolt, memory or none)", kind)
	}
	if res.Status != flow.Completed {
		return nil, fmt.Errorf("the flow ended %s: %v", res.Status, res.Err)
	}
	return res, nil
}

func prepBaseline(_ context.Context, s *spec) (*prepared, error) {
	return &prepared{body: func(context.Context) (*sample, error) {
		in, err := os.Open(s.In)
		if err != nil {
			return nil, err
		}
		defer in.Close()
		out, err := os.Create(s.Out)
		if err != nil {
			return nil, err
		}
		n, err := gen.Baseline(in, out)
		if err != nil {
			out.Close()
			return nil, err
		}
		if err := out.Close(); err != nil {
			return nil, err
		}
		return &sample{Records: int64(n)}, nil
	}}, nil
}

func prepBatch(_ context.Context, s *spec) (*prepared, error) {
	registerStandard()
	pb, err := processorBlock(s.Proc)
	if err != nil {
		return nil, err
	}
	extra := ""
	if s.Lag != nil {
		extra = fmt.Sprintf("    checkpoint_lag    = %d", *s.Lag)
	}
	f, err := loadFlow(s.Dir, "batch-"+s.Proc+".flow.hcl", batchFlow(pb, extra))
	if err != nil {
		return nil, err
	}
	params := map[string]cty.Value{
		"in":           cty.StringVal(s.In),
		"out":          cty.StringVal(s.Out),
		"chunk_size":   cty.NumberIntVal(int64(max(s.Chunk, 1))),
		"concurrency":  cty.NumberIntVal(int64(max(s.Concurrency, 1))),
		"partition_by": cty.StringVal(s.PartitionBy),
	}
	_ = os.Remove(s.Out)
	return &prepared{body: func(ctx context.Context) (*sample, error) {
		res, err := runFlow(ctx, f, params, s.Store, s.Dir)
		if err != nil {
			return nil, err
		}
		read, err := intOutput(res, "read")
		if err != nil {
			return nil, err
		}
		if read != int64(s.N) {
			return nil, fmt.Errorf("the batch read %d records, want %d", read, s.N)
		}
		return &sample{Records: read}, nil
	}}, nil
}

// intOutput reads a whole-number output of a run.
func intOutput(res *flow.Result, name string) (int64, error) {
	v, ok := res.Outputs[name]
	if !ok || v.IsNull() || v.Type() != cty.Number {
		return 0, fmt.Errorf("no number output %q", name)
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != 0 {
		return 0, errors.New("output " + name + " is not whole")
	}
	return n, nil
}
