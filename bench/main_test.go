package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The harness starts its own binary again for every run of a workload
// (and as the flow command line for the resume workload): under go test
// that binary is the test binary, which must then do what the bench binary
// does.
func TestMain(m *testing.M) {
	if path := os.Getenv(flowxEnv); path != "" {
		os.Exit(flowxMain(path))
	}
	if raw := os.Getenv(childEnv); raw != "" {
		os.Exit(childMain(raw))
	}
	os.Exit(m.Run())
}

// Every workload runs on a small input, and its output is checked against
// the baseline's (byte for byte, or line for line at concurrency 2); the
// SQL tables are counted; the resume workload kills and resumes.
func TestHarnessSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every workload in child processes")
	}
	dir := t.TempDir()
	c := &config{N: 3000, SQLN: 2500, Steps: 300, Runs: 1, Rounds: 1, Seed: 3, Big: true, Dir: dir,
		CPUProfile: filepath.Join(dir, "prof"), MemProfile: filepath.Join(dir, "prof")}
	if raceEnabled {
		// One of each kind of child: batch (Go, JS, partitions), SQL,
		// engine overhead, and the kill and resume.
		c.Only = []string{"go-c2-part", "js", "sqlite-writer", "loop-bolt", "resume-c1"}
	}
	var log bytes.Buffer
	rep, err := runHarness(context.Background(), c, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	ws, err := selectWorkloads(plan(c), c.Only)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		r := rep.Results[w.Name]
		if r == nil {
			t.Errorf("%s: no result", w.Name)
			continue
		}
		if r.Skipped != "" {
			t.Logf("%s: skipped: %s", w.Name, r.Skipped)
			continue
		}
		if len(r.Samples) != 1 {
			t.Errorf("%s: %d samples", w.Name, len(r.Samples))
			continue
		}
		s := r.Samples[0]
		if s.Records != int64(w.Rows) || s.Wall <= 0 || s.RSS < 1<<20 {
			t.Errorf("%s: sample %+v, want %d records, a wall time and an RSS", w.Name, s, w.Rows)
		}
		if _, err := os.Stat(filepath.Join(c.CPUProfile, w.Name+".cpu.pprof")); err != nil {
			t.Errorf("%s: no CPU profile: %v", w.Name, err)
		}
	}
	for _, name := range []string{"resume-c1", "resume-c2-part"} {
		if rep.Results[name] == nil {
			continue
		}
		e := rep.Results[name].Samples[0].Extra
		if e["bound"] == 0 {
			t.Errorf("%s: extra %v", name, e)
		}
		t.Logf("%s: %v", name, e)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, want := range []string{"baseline", "go-c2-part", "µs/step", "target"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
	t.Logf("\n%s", out.String())
}

func TestSelectWorkloads(t *testing.T) {
	all := plan(&config{N: 10, SQLN: 10, Steps: 10, Runs: 1, Rounds: 1, Big: true})
	tests := []struct {
		only []string
		want string // names, comma-separated
		err  string
	}{
		{nil, "", ""}, // everything
		{[]string{"baseline"}, "baseline", ""},
		{[]string{"js-c2"}, "baseline,js,js-c2", ""},
		{[]string{"4"}, "baseline,go,go-chunk100,go-chunk10000,go-nostore,go-lag0", ""},
		{[]string{"8"}, "baseline,go,go-x10", ""},
		{[]string{"pg-writer"}, "pg-copy,pg-writer", ""},
		{[]string{"6"}, "loop-none,loop-memory,loop-bolt,fork-none,fork-memory,fork-bolt", ""},
		{[]string{"gogo"}, "", `-only "gogo": no such workload`},
		{[]string{"9"}, "", `-only "9"`},
	}
	for _, tc := range tests {
		got, err := selectWorkloads(all, tc.only)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.only, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.only, err)
			continue
		}
		var names []string
		for _, w := range got {
			names = append(names, w.Name)
		}
		if tc.want == "" {
			if len(got) != len(all) {
				t.Errorf("%v: %d workloads, want all %d", tc.only, len(got), len(all))
			}
			continue
		}
		if strings.Join(names, ",") != tc.want {
			t.Errorf("%v: %s, want %s", tc.only, strings.Join(names, ","), tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args         []string
		n, runs, sql int
		big          bool
		err          string
	}{
		{nil, 1_000_000, 5, 200_000, true, ""},
		{[]string{"-quick"}, 100_000, 3, 30_000, false, ""},
		{[]string{"-quick", "-n", "5000", "-big", "yes"}, 5000, 3, 30_000, true, ""},
		{[]string{"-big", "maybe"}, 0, 0, 0, false, `-big "maybe"`},
		{[]string{"-steps", "0"}, 0, 0, 0, false, "-steps 0"},
		{[]string{"extra"}, 0, 0, 0, false, "unexpected arguments"},
	}
	for _, tc := range tests {
		var stderr bytes.Buffer
		c, err := parseFlags(tc.args, &stderr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if c.N != tc.n || c.Runs != tc.runs || c.SQLN != tc.sql || c.Big != tc.big {
			t.Errorf("%v: n %d runs %d sql %d big %v, want %d %d %d %v", tc.args, c.N, c.Runs, c.SQLN, c.Big, tc.n, tc.runs, tc.sql, tc.big)
		}
	}
}

func TestStatusField(t *testing.T) {
	const status = "Name:\tbench\nVmPeak:\t  123456 kB\nVmHWM:\t   20480 kB\nThreads:\t5\nVmBad:\tx kB\nVmEmpty:\n"
	tests := []struct {
		name string
		want int64
		ok   bool
		err  string
	}{
		{"VmHWM", 20480 * 1024, true, ""},
		{"Threads", 5, true, ""},
		{"VmRSS", 0, false, ""},
		{"VmBad", 0, false, "VmBad: strconv.ParseInt"},
		{"VmEmpty", 0, false, "VmEmpty: no value"},
	}
	for _, tc := range tests {
		got, ok, err := statusField(strings.NewReader(status), tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("%s: %d %v %v, want %d %v", tc.name, got, ok, err, tc.want, tc.ok)
		}
	}
}

func TestParseCents(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"12.34", 1234, false},
		{"12.3", 1230, false},
		{"12", 1200, false},
		{"0.05", 5, false},
		{"-1.50", -150, false},
		{".5", 50, false},
		{"1.234", 0, true},
		{"", 0, true},
		{"1,5", 0, true},
		{"abc", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tc := range tests {
		got, err := parseCents(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseCents(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestCompareOutputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := write("want", "h\na\nb\nc\n")
	tests := []struct {
		got    string
		sorted bool
		err    string
	}{
		{"h\na\nb\nc\n", false, ""},
		{"h\nc\na\nb\n", true, ""},
		{"h\nc\na\nb\n", false, `line 2: "c\n", want "a\n"`},
		{"h\na\nb\n", false, `line 4: "", want "c\n"`},
		{"h\na\nb\nb\n", true, "the lines differ"},
		{"x\na\nb\nc\n", true, `header "x"`},
		{"h\na\nb\n", true, "4 lines, want 5"},
	}
	for i, tc := range tests {
		f := &dataFile{expected: want}
		err := f.verify(write("got", tc.got), tc.sorted)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%d: %v", i, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%d: error %v, want %q", i, err, tc.err)
		}
	}
}

func TestEvaluate(t *testing.T) {
	res := func(name string, group int, records int64, wall time.Duration, rss int64) *result {
		r := &result{Workload: &workload{Name: name, Group: group, Rows: int(records), Unit: "records"},
			Samples: []sample{{Records: records, Wall: wall, CPU: wall, RSS: rss}}, Wall: wall, CPU: wall, RSS: rss}
		r.Rate = float64(records) / wall.Seconds()
		return r
	}
	rs := map[string]*result{
		"baseline":    res("baseline", 0, 1000, time.Second, 20<<20),
		"go":          res("go", 1, 1000, 900*time.Millisecond, 30<<20),    // 1.11×: PASS
		"js":          res("js", 2, 1000, 10*time.Second, 30<<20),          // 0.10×: MISS
		"go-c2":       res("go-c2", 3, 1000, 600*time.Millisecond, 30<<20), // 1.5× go: PASS
		"go-nostore":  res("go-nostore", 4, 1000, 800*time.Millisecond, 30<<20),
		"go-x10":      res("go-x10", 8, 10000, 9*time.Second, 32<<20),    // ≤ 1.1×, ≤ 100 MB: PASS
		"loop-bolt":   res("loop-bolt", 6, 1000, 30*time.Millisecond, 1), // 30 µs: MISS
		"fork-memory": res("fork-memory", 6, 1000, time.Millisecond, 1),  // 1 µs: PASS
	}
	rs["loop-bolt"].Workload.Unit, rs["fork-memory"].Workload.Unit = "steps", "steps"
	rs["resume-c1"] = &result{Workload: &workload{Name: "resume-c1", Group: 7},
		Samples: []sample{{Extra: map[string]float64{"kills": 2, "reprocessed_max": 800, "reprocessed_mean": 600, "bound": 1000, "lag": 8}}}}
	got := map[string]string{}
	for _, tr := range evaluate(rs) {
		if tr.Measured != "not run" {
			got[tr.Target] = tr.Verdict
		}
	}
	want := map[string]string{
		"go ≥ 1.0× baseline":  "PASS",
		"js ≥ 0.14× baseline": "MISS",
		"go-c2 ≥ 1.4× go":     "PASS",
		"checkpoints at chunk 1000 cost ≤ 10%: go ≥ 0.90× go-nostore":      "MISS",
		"loop-bolt ≤ 20 µs/step":                                           "MISS",
		"fork-memory ≤ 2 µs/step":                                          "PASS",
		"resume-c1 (checkpoint_lag 8): re-processed per kill ≤ 1000":       "PASS",
		"peak RSS at 10k records ≤ 100 MB and ≤ 1.1× the 1k-record figure": "PASS",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("measured targets %v, want %v", got, want)
	}
}

func TestIndent(t *testing.T) {
	got := indent("a\n\nb", "  ")
	if got != "  a\n\n  b" {
		t.Errorf("%q", got)
	}
	if src := batchFlow(`    processor "standard" {}`, ""); !strings.Contains(src, `processor "standard" {}`) {
		t.Error(src)
	}
	if _, err := processorBlock("lua"); err == nil {
		t.Error("no error for an unknown processor")
	}
}
