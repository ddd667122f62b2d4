package main

// A workload runs in a child process of its own, the bench binary started
// again with the spec in an environment variable, so that its peak RSS is
// its own and a run cannot warm the heap of the next. The child measures
// the workload alone (not its start nor the verification), and prints one
// JSON line: its sample.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowbatch/flow/cli"
)

// childEnv holds a child's spec; a process that has it runs one workload.
const childEnv = "FLOWBENCH_CHILD"

// spec is everything a child needs to run one workload once.
type spec struct {
	Workload string `json:"workload"` // the row's name
	Kind     string `json:"kind"`     // what runs: see runKind
	Dir      string `json:"dir"`      // the run's scratch directory (flows, stores, outputs)
	In       string `json:"in"`       // the input CSV
	Out      string `json:"out"`      // where an output goes
	N        int    `json:"n"`        // input records, or loop iterations / fork items

	Proc        string `json:"proc,omitempty"` // go | js
	Chunk       int    `json:"chunk,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	PartitionBy string `json:"partition_by,omitempty"`
	Store       string `json:"store,omitempty"` // bolt | memory | none
	Lag         *int   `json:"lag,omitempty"`   // the batch step's checkpoint_lag (nil: its default)

	Driver string `json:"driver,omitempty"` // sqlite | postgres
	DSN    string `json:"dsn,omitempty"`
	// Kept and Cents are what the table must hold after a SQL workload:
	// the rows T keeps and the sum of their cents.
	Kept  int64 `json:"kept,omitempty"`
	Cents int64 `json:"cents,omitempty"`

	Rounds int    `json:"rounds,omitempty"` // resume: kill rounds
	Seed   uint64 `json:"seed,omitempty"`

	CPUProfile string `json:"cpuprofile,omitempty"`
	MemProfile string `json:"memprofile,omitempty"`
}

// sample is what one run of a workload measured.
type sample struct {
	Wall    time.Duration `json:"wall_ns"`
	CPU     time.Duration `json:"cpu_ns"`    // user + system of the child, during the workload
	RSS     int64         `json:"rss_bytes"` // the child's peak resident set (VmHWM)
	Records int64         `json:"records"`   // input records read, or steps run
	// Extra holds workload-specific figures (re-processed records of a
	// resume, ...).
	Extra map[string]float64 `json:"extra,omitempty"`
	Note  string             `json:"note,omitempty"`
}

// childMain runs the spec of the environment and prints its sample.
func childMain(raw string) int {
	// Processes this one starts (the resume workload's) are not children
	// of the harness.
	os.Unsetenv(childEnv)
	// Every workload, the baseline too, runs with the collector's target
	// the flow command sets for itself.
	cli.TuneGC()
	var s spec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, "flowbench child: bad spec:", err)
		return 2
	}
	smp, err := measure(context.Background(), &s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flowbench child %s: %v\n", s.Workload, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(smp); err != nil {
		fmt.Fprintln(os.Stderr, "flowbench child:", err)
		return 1
	}
	return 0
}

// measure runs a workload once with the clocks around it.
func measure(ctx context.Context, s *spec) (*sample, error) {
	run, err := runKind(s.Kind)
	if err != nil {
		return nil, err
	}
	prep, err := run(ctx, s)
	if err != nil {
		return nil, err
	}
	if s.CPUProfile != "" {
		f, err := os.Create(s.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	cpu0 := cpuTime()
	start := time.Now()
	smp, err := prep.body(ctx)
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	if s.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	if s.MemProfile != "" {
		if err := writeAllocs(s.MemProfile); err != nil {
			return nil, err
		}
	}
	rss, err := peakRSS()
	if err != nil {
		return nil, err
	}
	if smp.Wall == 0 {
		smp.Wall = wall
	}
	if smp.CPU == 0 {
		smp.CPU = cpu
	}
	smp.RSS = rss
	if prep.check != nil {
		if err := prep.check(ctx, smp); err != nil {
			return nil, fmt.Errorf("check after the run: %w", err)
		}
	}
	return smp, nil
}

// prepared is a workload ready to run: body is what is measured; check,
// if set, runs after the clocks stopped (a database count).
type prepared struct {
	body  func(ctx context.Context) (*sample, error)
	check func(ctx context.Context, smp *sample) error
}

// runKind returns the function that prepares a kind of workload.
func runKind(kind string) (func(context.Context, *spec) (*prepared, error), error) {
	switch kind {
	case "baseline":
		return prepBaseline, nil
	case "batch":
		return prepBatch, nil
	case "sql-engine":
		return prepSQLEngine, nil
	case "sql-insert":
		return prepSQLInsert, nil
	case "sql-copy":
		return prepSQLCopy, nil
	case "loop", "fork":
		return prepOverhead, nil
	case "resume":
		return prepResume, nil
	}
	return nil, fmt.Errorf("unknown kind of workload %q", kind)
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuTime is the user and system CPU time of this process, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS reads this process's peak resident set size, VmHWM, from
// /proc/self/status; where there is none, Getrusage's Maxrss.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err == nil {
		defer f.Close()
		if v, ok, err := statusField(f, "VmHWM"); err != nil || ok {
			return v, err
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return ru.Maxrss * 1024, nil // kilobytes on Linux
}

// statusField reads a "Name:   123 kB" line of a /proc status file, in
// bytes.
func statusField(r io.Reader, name string) (int64, bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0, false, fmt.Errorf("%s: no value", name)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %w", name, err)
		}
		if len(f) > 1 {
			switch strings.ToLower(f[1]) {
			case "kb":
				n *= 1024
			case "mb":
				n *= 1024 * 1024
			}
		}
		return n, true, nil
	}
	return 0, false, sc.Err()
}

// runChild runs one workload in a child process and returns its sample.
func runChild(ctx context.Context, exe string, s *spec) (*sample, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4000 {
			msg = msg[:4000] + "..."
		}
		return nil, fmt.Errorf("%s: %v\n%s", s.Workload, err, msg)
	}
	var smp sample
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&smp); err != nil {
		return nil, fmt.Errorf("%s: reading the child's sample: %w (stdout %q)", s.Workload, err, stdout.String())
	}
	if smp.RSS == 0 {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			smp.RSS = ru.Maxrss * 1024
		}
	}
	return &smp, nil
}

var errSkip = errors.New("skipped")
