// Command bench is Flowbatch's benchmark harness: it measures the batch
// engine against a hand-written Go baseline in one run, so that ratios
// hold on a shared, noisy machine where absolute times move (issue 7,
// docs/performance.md).
//
//	go run ./bench                      # the full run (make bench), up to ~15 minutes
//	go run ./bench -quick               # a small one, about a minute (make bench-quick)
//	go run ./bench -only 1,2,baseline -n 200000 -runs 3
//	go run ./bench -only go -cpuprofile /tmp/prof   # then go tool pprof /tmp/prof/go.cpu.pprof
//
// The input is the standard one of internal/gen, generated from a seed
// into a temporary directory and shared by every workload. Each run of a
// workload is a child process (this binary again), so that its CPU time
// and peak RSS are its own; the runs of all workloads are interleaved
// (run 1 of each, then run 2 of each, ...), so that a change of the
// machine's load falls on all of them alike. The table gives medians,
// the ratio to the baseline of the same run, and PASS or MISS against the
// issue's targets.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if path := os.Getenv(flowxEnv); path != "" {
		os.Exit(flowxMain(path))
	}
	if raw := os.Getenv(childEnv); raw != "" {
		os.Exit(childMain(raw))
	}
	os.Exit(harnessMain(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the harness's command line.
type config struct {
	Quick      bool
	N          int
	SQLN       int
	Steps      int
	Runs       int
	Rounds     int
	Seed       int64
	Only       []string
	Out        string
	CPUProfile string
	MemProfile string
	Dir        string
	Keep       bool
	Big        bool // the 10x memory workload
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	fs.BoolVar(&c.Quick, "quick", false, "a small run: fewer records and runs, about a minute")
	fs.IntVar(&c.N, "n", 0, "records of the standard input (default 1000000; 100000 with -quick)")
	fs.IntVar(&c.SQLN, "sql-n", 0, "records of the SQL workloads (default 200000; 30000 with -quick)")
	fs.IntVar(&c.Steps, "steps", 10000, "iterations of the loop and items of the fork (workload 6)")
	fs.IntVar(&c.Runs, "runs", 0, "runs of each workload; the table shows medians (default 5; 3 with -quick)")
	fs.IntVar(&c.Rounds, "rounds", 0, "kill-and-resume rounds of workload 7 (default 6; 2 with -quick)")
	fs.Int64Var(&c.Seed, "seed", 1, "the seed of the input data and of the kills")
	only := fs.String("only", "", "comma-separated workloads to run: names (go, js-c2, ...) or the issue's numbers (0-8)")
	fs.StringVar(&c.Out, "out", "", "also write every sample, the medians and the targets as JSON to this file")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "a directory: write a CPU profile of each workload's first run to DIR/NAME.cpu.pprof")
	fs.StringVar(&c.MemProfile, "memprofile", "", "a directory: write an allocation profile of each workload's first run to DIR/NAME.alloc.pprof")
	fs.StringVar(&c.Dir, "dir", "", "where the data and outputs go (default: a new temporary directory)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the directory of the data and outputs")
	big := fs.String("big", "auto", "run the memory workload at 10x the records: yes, no, or auto (yes without -quick)")
	list := fs.Bool("list", false, "list the workloads and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	def := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	def(&c.N, 1_000_000, 100_000)
	def(&c.SQLN, 200_000, 30_000)
	def(&c.Runs, 5, 3)
	def(&c.Rounds, 6, 2)
	if c.Steps <= 0 {
		return nil, fmt.Errorf("-steps %d: want at least 1", c.Steps)
	}
	switch *big {
	case "yes":
		c.Big = true
	case "no":
	case "auto":
		c.Big = !c.Quick
	default:
		return nil, fmt.Errorf("-big %q: want yes, no or auto", *big)
	}
	if *only != "" {
		for _, o := range strings.Split(*only, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.Only = append(c.Only, o)
			}
		}
	}
	if *list {
		for _, w := range plan(c) {
			fmt.Fprintf(stderr, "%-16s %d  %s\n", w.Name, w.Group, w.What)
		}
		return nil, flag.ErrHelp
	}
	return c, nil
}

func harnessMain(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	rep, err := runHarness(context.Background(), c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	rep.print(stdout)
	if c.Out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(c.Out, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	return 0
}

// workload is a row of the table.
type workload struct {
	Name  string `json:"name"`
	Group int    `json:"group"` // the workload number
	What  string `json:"what"`
	Spec  spec   `json:"-"`
	Rows  int    `json:"rows"` // records of its input file
	// Ref is the workload its target compares it with ("" for none).
	Ref string `json:"ref,omitempty"`
	// Verify says how its output is checked against the baseline's:
	// "exact" (byte for byte), "sorted" (the same lines in any order), or
	// nothing (the workload checks itself).
	Verify string `json:"-"`
	Runs   int    `json:"-"`    // 0: -runs
	Unit   string `json:"unit"` // records or steps
	PG     bool   `json:"-"`    // needs PostgreSQL
}

// plan is every workload of the harness, in table order.
func plan(c *config) []*workload {
	var ws []*workload
	add := func(w *workload) { ws = append(ws, w) }
	batch := func(name string, group int, what, proc string, chunk, conc int, part, st, ref string) {
		v := "exact"
		if conc > 1 {
			v = "sorted"
		}
		add(&workload{Name: name, Group: group, What: what, Rows: c.N, Ref: ref, Verify: v, Unit: "records",
			Spec: spec{Kind: "batch", Proc: proc, Chunk: chunk, Concurrency: conc, PartitionBy: part, Store: st}})
	}
	add(&workload{Name: "baseline", Group: 0, What: "hand-written Go: encoding/csv, T, no engine, no checkpoints", Rows: c.N,
		Verify: "exact", Unit: "records", Spec: spec{Kind: "baseline"}})
	batch("go", 1, "batch CSV → Go T → CSV, chunk 1000, bbolt checkpoints, 1 worker", "go", 1000, 1, "", "bolt", "baseline")
	batch("js", 2, "the same, T in JavaScript (exact decimals)", "js", 1000, 1, "", "bolt", "baseline")
	batch("js-number", 2, "js with the amount as a number (Math.round), not a decimal", "js-number", 1000, 1, "", "bolt", "js")
	batch("js-multiline", 2, "js with the literal's first key on the line after the brace", "js-multiline", 1000, 1, "", "bolt", "js")
	batch("go-c2", 3, "go, concurrency 2", "go", 1000, 2, "", "bolt", "go")
	batch("go-c2-part", 3, "go, concurrency 2, partition_by = \"account\"", "go", 1000, 2, "account", "bolt", "go")
	batch("js-c2", 3, "js, concurrency 2", "js", 1000, 2, "", "bolt", "js")
	batch("js-c2-part", 3, "js, concurrency 2, partition_by = \"account\"", "js", 1000, 2, "account", "bolt", "js")
	batch("go-chunk100", 4, "go, chunk 100", "go", 100, 1, "", "bolt", "go-nostore")
	batch("go-chunk10000", 4, "go, chunk 10000", "go", 10000, 1, "", "bolt", "go-nostore")
	batch("go-nostore", 4, "go, checkpoints off (no journal)", "go", 1000, 1, "", "none", "")
	batch("go-lag0", 4, "go, checkpoint_lag = 0: each checkpoint saved before the next chunk", "go", 1000, 1, "", "bolt", "go")
	ws[len(ws)-1].Spec.Lag = new(int)
	sql := func(name, what, kind, driver, ref string) {
		add(&workload{Name: name, Group: 5, What: what, Rows: c.SQLN, Ref: ref, Unit: "records", PG: driver == "postgres",
			Spec: spec{Kind: kind, Driver: driver, Store: "bolt"}})
	}
	sql("sqlite-insert", "SQLite: database/sql multi-row INSERT, tx per 1000", "sql-insert", "sqlite", "")
	sql("sqlite-writer", "SQLite: batch, Go T, writer \"sql\", bbolt checkpoints", "sql-engine", "sqlite", "sqlite-insert")
	sql("pg-insert", "PostgreSQL: database/sql multi-row INSERT, tx per 1000", "sql-insert", "postgres", "")
	sql("pg-copy", "PostgreSQL: pgx COPY, tx per 1000", "sql-copy", "postgres", "")
	sql("pg-writer", "PostgreSQL: batch, Go T, writer \"sql\", bbolt checkpoints", "sql-engine", "postgres", "pg-copy")
	for _, kind := range []string{"loop", "fork"} {
		for _, st := range []string{"none", "memory", "bolt"} {
			what := map[string]string{"loop": "loop of N set steps", "fork": "fork of N items (1 set step each), max_concurrency 8"}[kind]
			what += map[string]string{"none": ", no journal", "memory": ", in-memory store", "bolt": ", bbolt store"}[st]
			add(&workload{Name: kind + "-" + st, Group: 6, What: what, Rows: c.Steps, Unit: "steps",
				Spec: spec{Kind: kind, Store: st}})
		}
	}
	rounds := c.Rounds
	add(&workload{Name: "resume-c1", Group: 7, What: "kill -9 at a random moment, resume: records processed again", Rows: c.N,
		Unit: "records", Runs: 1, Spec: spec{Kind: "resume", Chunk: 1000, Concurrency: 1, Rounds: rounds}})
	add(&workload{Name: "resume-c2-part", Group: 7, What: "the same at concurrency 2, partition_by = \"account\"", Rows: c.N,
		Unit: "records", Runs: 1, Spec: spec{Kind: "resume", Chunk: 1000, Concurrency: 2, PartitionBy: "account", Rounds: rounds}})
	add(&workload{Name: "resume-lag0", Group: 7, What: "resume-c1 with checkpoint_lag = 0", Rows: c.N,
		Unit: "records", Runs: 1, Spec: spec{Kind: "resume", Chunk: 1000, Concurrency: 1, Rounds: rounds, Lag: new(int)}})
	if c.Big {
		add(&workload{Name: "go-x10", Group: 8, What: "go at 10× the records (peak RSS)", Rows: 10 * c.N, Ref: "go",
			Verify: "exact", Unit: "records", Runs: min(c.Runs, 3),
			Spec: spec{Kind: "batch", Proc: "go", Chunk: 1000, Concurrency: 1, Store: "bolt"}})
	}
	for _, w := range ws {
		w.Spec.Workload = w.Name
	}
	return ws
}

// selectWorkloads keeps the workloads -only names (by name or number) and
// those their targets compare them with.
func selectWorkloads(all []*workload, only []string) ([]*workload, error) {
	if len(only) == 0 {
		return all, nil
	}
	keep := map[string]bool{}
	for _, o := range only {
		found := false
		if g, err := strconv.Atoi(o); err == nil {
			for _, w := range all {
				if w.Group == g {
					keep[w.Name], found = true, true
				}
			}
			if g == 4 || g == 8 { // chunk 1000 with checkpoints; the 1x figure of the memory workload
				keep["go"] = true
			}
		} else {
			for _, w := range all {
				if w.Name == o {
					keep[w.Name], found = true, true
				}
			}
		}
		if !found {
			names := make([]string, len(all))
			for i, w := range all {
				names[i] = w.Name
			}
			return nil, fmt.Errorf("-only %q: no such workload (%s, or 0 to 8)", o, strings.Join(names, ", "))
		}
	}
	// What the kept ones are compared with, transitively.
	for changed := true; changed; {
		changed = false
		for _, w := range all {
			if keep[w.Name] && w.Ref != "" && !keep[w.Ref] {
				keep[w.Ref], changed = true, true
			}
		}
	}
	var out []*workload
	for _, w := range all {
		if keep[w.Name] {
			out = append(out, w)
		}
	}
	return out, nil
}

// runHarness generates the data, runs the workloads and gathers the
// report.
func runHarness(ctx context.Context, c *config, log io.Writer) (*report, error) {
	ws, err := selectWorkloads(plan(c), c.Only)
	if err != nil {
		return nil, err
	}
	dir := c.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "flowbench-"); err != nil {
			return nil, err
		}
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{c.CPUProfile, c.MemProfile} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	rep := &report{Date: time.Now().UTC().Format(time.RFC3339), Machine: describeMachine(dir),
		Command: "go run ./bench " + strings.Join(os.Args[1:], " "), Config: *c, Results: map[string]*result{}}
	data := newDataSet(dir, c.Seed)

	// PostgreSQL: a schema for this run, or a note why not.
	var pgDSN string
	for _, w := range ws {
		if w.PG {
			dsn, drop, err := pgSchema(ctx, postgresDSN())
			if err != nil {
				rep.Notes = append(rep.Notes, "PostgreSQL workloads skipped: "+err.Error())
				pgDSN = "-"
			} else {
				pgDSN = dsn
				defer drop()
			}
			break
		}
	}

	// Data and the expected outputs first, so that no workload pays for it.
	for _, w := range ws {
		if w.PG && pgDSN == "-" {
			rep.Results[w.Name] = &result{Workload: w, Skipped: "no PostgreSQL"}
			continue
		}
		fmt.Fprintf(log, "data: %d records for %s\n", w.Rows, w.Name)
		f, err := data.file(w.Rows)
		if err != nil {
			return nil, err
		}
		wdir := filepath.Join(dir, w.Name)
		if err := os.MkdirAll(wdir, 0o755); err != nil {
			return nil, err
		}
		s := &w.Spec
		s.Dir, s.In, s.Out, s.N, s.Seed = wdir, f.path, filepath.Join(wdir, "out.csv"), w.Rows, uint64(c.Seed)
		s.Kept, s.Cents = f.kept, f.cents
		switch s.Driver {
		case "sqlite":
			s.DSN = sqliteDSN(wdir)
		case "postgres":
			s.DSN = pgDSN
		}
		rep.Results[w.Name] = &result{Workload: w}
		rep.order = append(rep.order, w.Name)
	}

	maxRuns := 0
	for _, w := range ws {
		maxRuns = max(maxRuns, runsOf(w, c))
	}
	start := time.Now()
	for run := 0; run < maxRuns; run++ {
		for _, w := range ws {
			res := rep.Results[w.Name]
			if res.Skipped != "" || run >= runsOf(w, c) {
				continue
			}
			s := w.Spec
			if run == 0 {
				if c.CPUProfile != "" {
					s.CPUProfile = filepath.Join(c.CPUProfile, w.Name+".cpu.pprof")
				}
				if c.MemProfile != "" {
					s.MemProfile = filepath.Join(c.MemProfile, w.Name+".alloc.pprof")
				}
			}
			smp, err := runChild(ctx, exe, &s)
			if err != nil {
				return nil, err
			}
			if run == 0 && w.Verify != "" {
				f, _ := data.file(w.Rows)
				if err := f.verify(s.Out, w.Verify == "sorted"); err != nil {
					return nil, fmt.Errorf("%s: the output differs from the baseline's: %w", w.Name, err)
				}
			}
			_ = os.Remove(s.Out)
			res.Samples = append(res.Samples, *smp)
			fmt.Fprintf(log, "[%s] %-15s run %d/%d: %8.3fs wall, %8.3fs CPU, %4d MB peak RSS\n",
				time.Since(start).Round(time.Second), w.Name, run+1, runsOf(w, c),
				smp.Wall.Seconds(), smp.CPU.Seconds(), smp.RSS>>20)
		}
	}
	rep.Machine.LoadEnd = loadAvg()
	rep.Machine.FsyncEnd = fsyncLatency(dir)
	rep.Elapsed = time.Since(start).Round(time.Second).String()
	rep.summarize()
	return rep, nil
}

func runsOf(w *workload, c *config) int {
	if w.Runs > 0 {
		return w.Runs
	}
	return c.Runs
}

// median of durations (the lower middle one of an even count).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
