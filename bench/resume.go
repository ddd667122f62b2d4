package main

// Workload 7: how many records a resume processes again after a kill -9.
// The batch runs in a separate process, the flow command line with
// processor "standard" as internal/flowx builds it (this binary in flowx
// mode), killed with SIGKILL at a random moment by internal/chaos's batch
// driver and resumed until it completes. The processor counts every record
// it processes in a shared memory-mapped file, which outlives the killed
// process: re-processed = records processed across the runs of a round - N.

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/flowbatch/flow/cli"
	"github.com/flowbatch/flow/internal/chaos"
	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// flowxEnv names the counter file of a process in flowx mode.
const flowxEnv = "FLOWBENCH_FLOWX"

// flowxMain is internal/flowx with a counting processor: the whole flow
// command line, and processor "standard" = T.
func flowxMain(counterPath string) int {
	n, unmap, err := mapCounter(counterPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowbench flowx:", err)
		return 2
	}
	defer unmap()
	batch.RegisterFunc("standard", gen.ProcessorSummary, func(c *batch.Chunk, in *record.Record, emit func(*record.Record)) error {
		atomic.AddInt64(n, 1)
		return gen.Process(c, in, emit)
	})
	return cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// mapCounter maps the 8-byte counter of path (made when missing) into
// memory, shared: what the process adds stays in the file when it is
// killed.
func mapCounter(path string) (*int64, func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, nil, err
	} else if fi.Size() < 8 {
		if err := f.Truncate(8); err != nil {
			return nil, nil, err
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, 8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return (*int64)(unsafe.Pointer(&mem[0])), func() { _ = syscall.Munmap(mem) }, nil
}

// readCounter reads a counter file (0 when there is none).
func readCounter(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) < 8 {
		return 0, fmt.Errorf("%s: %d bytes, want 8", path, len(b))
	}
	return int64(binary.NativeEndian.Uint64(b)), nil
}

func prepResume(_ context.Context, s *spec) (*prepared, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	flowFile, err := chaos.WriteBatchFlow(s.Dir)
	if err != nil {
		return nil, err
	}
	rounds := max(s.Rounds, 1)
	return &prepared{body: func(ctx context.Context) (*sample, error) {
		d := &chaos.BatchDriver{Binary: exe, FlowFile: flowFile, In: s.In, Concurrency: max(s.Concurrency, 1),
			PartitionBy: s.PartitionBy, ChunkSize: max(s.Chunk, 1), MaxKills: 1, CheckpointLag: s.Lag}
		// round runs the scenario in a directory of its own and returns
		// what its processor counted.
		round := func(name string, fn func(dir string) (*chaos.BatchRound, error)) (*chaos.BatchRound, int64, error) {
			dir := filepath.Join(s.Dir, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, 0, err
			}
			counter := filepath.Join(dir, "processed")
			if err := os.Setenv(flowxEnv, counter); err != nil {
				return nil, 0, err
			}
			r, err := fn(dir)
			if err != nil {
				return r, 0, fmt.Errorf("%s: %w", name, err)
			}
			n, err := readCounter(counter)
			return r, n, err
		}
		_, ref, err := round("reference", func(dir string) (*chaos.BatchRound, error) { return d.Reference(ctx, dir) })
		if err != nil {
			return nil, err
		}
		if ref != int64(s.N) {
			return nil, fmt.Errorf("the uninterrupted run processed %d records, want %d", ref, s.N)
		}
		var kills, total, worst int64
		for i := 0; i < rounds; i++ {
			seed := s.Seed + uint64(i)
			r, n, err := round(fmt.Sprintf("round%d", i), func(dir string) (*chaos.BatchRound, error) { return d.Round(ctx, dir, seed) })
			if err != nil {
				return nil, err
			}
			if r.Kills == 0 {
				continue // the kill came after the end
			}
			again := n - int64(s.N)
			if again < 0 {
				return nil, fmt.Errorf("round %d: %d records processed, fewer than the %d of the input", i, n, s.N)
			}
			kills += int64(r.Kills)
			total += again
			worst = max(worst, again/int64(r.Kills))
		}
		smp := &sample{Records: int64(s.N), Extra: map[string]float64{
			"kills":           float64(kills),
			"reprocessed_max": float64(worst),
			"bound":           float64(max(s.Chunk, 1) * max(s.Concurrency, 1)),
			"lag":             float64(d.Lag()),
		}}
		if kills > 0 {
			smp.Extra["reprocessed_mean"] = float64(total) / float64(kills)
		}
		return smp, nil
	}}, nil
}
