package chaos_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/chaos"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/store/bolt"
)

var (
	runs   = flag.Int("chaos.runs", 20, "the least number of SIGKILLs TestChaos sends, over as many rounds as it takes")
	seed   = flag.Uint64("chaos.seed", 0, "the seed of TestChaos's random delays (0: from the clock; printed on failure)")
	binary = flag.String("chaos.binary", "", "the flow binary TestChaos drives (default: built from ./cmd/flow)")
	delay  = flag.Duration("chaos.delay", 20*time.Millisecond, "how long each effect of the chaos flow sleeps")
)

// flowBin is the binary under test, built by TestMain; buildErr says why
// it could not be (the tests that need no binary run anyway).
var (
	flowBin  string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "flow-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flowBin = filepath.Join(dir, "flow")
	if *binary != "" {
		flowBin = *binary
		code := m.Run()
		os.RemoveAll(dir)
		removeFlowx()
		os.Exit(code)
	}
	// Without -race even under go test -race: the test is about the store
	// and the engine surviving kills, and a fast binary gets more of them.
	build := exec.Command("go", "build", "-o", flowBin, "github.com/flowbatch/flow/cmd/flow")
	if out, err := build.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("building flow: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	removeFlowx()
	os.Exit(code)
}

// TestChaos kills the flow binary at random points of the chaos flow,
// runs the same command again until the execution completes, and checks
// every step's effect: present, and more than once only where a killed
// execution had the step running. The final outputs must be those of an
// uninterrupted run.
func TestChaos(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	help, err := exec.Command(flowBin, "exec", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(help), "--store") {
		t.Fatalf("flow exec has no --store flag (%v):\n%s", err, help)
	}
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./internal/chaos -run 'TestChaos$' -chaos.seed=%d -chaos.runs=%d -chaos.delay=%s", s, *runs, *delay)
		}
	})
	file, err := chaos.FlowFile("testdata")
	if err != nil {
		t.Fatal(err)
	}
	params := chaos.DefaultParams
	params.Delay = *delay
	d := &chaos.Driver{Binary: flowBin, FlowFile: file, Params: params, MaxInterrupts: 3, TermRatio: 0.2}
	ctx := context.Background()

	ref, err := d.Reference(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reference run: %s, %d effects", ref.Attempts[0].Elapsed.Round(time.Millisecond), len(ref.Effects))

	rng := rand.New(rand.NewPCG(s, 0))
	var total struct {
		rounds, kills, stops, resumes, checked, missing, allowed, unallowed, unexpected int
	}
	deadline := time.Now().Add(20 * time.Minute)
	for total.kills < *runs {
		if total.rounds > 10*(*runs)+10 || time.Now().After(deadline) {
			t.Fatalf("only %d kills landed in %d rounds", total.kills, total.rounds)
		}
		roundSeed := rng.Uint64()
		r, err := d.Round(ctx, t.TempDir(), roundSeed)
		total.rounds++
		var desc strings.Builder
		r.Describe(&desc)
		if err != nil {
			t.Fatalf("round %d: %v\n%s", total.rounds, err, desc.String())
		}
		total.kills += r.Kills
		total.stops += r.Stops
		total.resumes += r.Resumes
		v := r.Verdict
		total.checked += v.Checked
		total.missing += len(v.Missing)
		total.allowed += len(v.AllowedDup)
		total.unallowed += len(v.Unallowed)
		total.unexpected += len(v.Unexpected)
		if !v.OK() {
			t.Errorf("round %d: %s\n%s", total.rounds, v, desc.String())
		}
		if err := chaos.SameOutputs(r, ref); err != nil {
			t.Errorf("round %d: %v\n%s", total.rounds, err, desc.String())
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("chaos: %d rounds, %d kills, %d stops, %d resumes, %d paths checked, %d missing, %d duplicated (%d allowed, %d not allowed), %d unexpected; seed %d",
		total.rounds, total.kills, total.stops, total.resumes, total.checked, total.missing,
		total.allowed+total.unallowed, total.allowed, total.unallowed, total.unexpected, s)
}

// The flow's effects are exactly ExpectedPaths, once each, when it runs
// without interruption (in process, without a store).
func TestExpectedPaths(t *testing.T) {
	tests := []struct {
		name string
		p    chaos.FlowParams
	}{
		{"defaults", chaos.FlowParams{Rounds: 4, Items: []string{"a", "b", "c"}, BranchIterations: 3}},
		{"no rounds", chaos.FlowParams{Rounds: 0, Items: []string{"a"}, BranchIterations: 1}},
		{"no items", chaos.FlowParams{Rounds: 2, Items: []string{}, BranchIterations: 0}},
		{"wide", chaos.FlowParams{Rounds: 1, Items: []string{"a", "b", "c", "d", "e"}, BranchIterations: 2}},
	}
	file, err := chaos.FlowFile("testdata")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := flowtest.LoadFile(t, file)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "effects.txt")
			items := make([]cty.Value, len(tt.p.Items))
			for i, s := range tt.p.Items {
				items[i] = cty.StringVal(s)
			}
			list := cty.ListValEmpty(cty.String)
			if len(items) > 0 {
				list = cty.ListVal(items)
			}
			res, _ := flowtest.RunFlow(t, context.Background(), f, map[string]cty.Value{
				"out": cty.StringVal(out), "delay": cty.StringVal("0"),
				"rounds": cty.NumberIntVal(int64(tt.p.Rounds)), "items": list,
				"branch_iterations": cty.NumberIntVal(int64(tt.p.BranchIterations)),
			})
			if res.Status != flow.Completed {
				t.Fatalf("%s: %v", res.Status, res.Err)
			}
			counts, err := chaos.ReadEffects(out)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for p, n := range counts {
				if n != 1 {
					t.Errorf("%s appears %d times", p, n)
				}
				got = append(got, p)
			}
			slices.Sort(got)
			if want := chaos.ExpectedPaths(tt.p); !slices.Equal(got, want) {
				t.Errorf("effects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if got, want := flowtest.Output(res, "i"), fmt.Sprint(tt.p.Rounds); got != want {
				t.Errorf("output i = %s, want %s", got, want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	expected := []string{"a", "b", "c"}
	tests := []struct {
		name                  string
		counts, allowed       map[string]int
		ok                    bool
		missing, dup, unallow int
		unexpected            int
	}{
		{"exact", map[string]int{"a": 1, "b": 1, "c": 1}, nil, true, 0, 0, 0, 0},
		{"missing", map[string]int{"a": 1, "c": 1}, nil, false, 1, 0, 0, 0},
		{"duplicate allowed", map[string]int{"a": 2, "b": 1, "c": 1}, map[string]int{"a": 1}, true, 0, 1, 0, 0},
		{"duplicate not allowed", map[string]int{"a": 1, "b": 2, "c": 1}, map[string]int{"a": 1}, false, 0, 0, 1, 0},
		{"more than kills allow", map[string]int{"a": 3, "b": 1, "c": 1}, map[string]int{"a": 1}, false, 0, 0, 1, 0},
		{"twice killed", map[string]int{"a": 3, "b": 1, "c": 1}, map[string]int{"a": 2}, true, 0, 1, 0, 0},
		{"allowed but once", map[string]int{"a": 1, "b": 1, "c": 1}, map[string]int{"a": 1}, true, 0, 0, 0, 0},
		{"unexpected", map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}, nil, false, 0, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := chaos.Check(expected, tt.counts, tt.allowed)
			if v.OK() != tt.ok || len(v.Missing) != tt.missing || len(v.AllowedDup) != tt.dup ||
				len(v.Unallowed) != tt.unallow || len(v.Unexpected) != tt.unexpected || v.Checked != 3 {
				t.Errorf("got %s (ok %v)", v, v.OK())
			}
		})
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chaos.CheckFile(bad); err == nil {
		t.Error("a file that is no bbolt database passed the check")
	}
	if err := chaos.CheckFile(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("a missing file passed the check")
	}
}

func TestParamsArgs(t *testing.T) {
	p := chaos.FlowParams{Rounds: 2, Items: []string{"x", "y"}, BranchIterations: 1, Delay: 15 * time.Millisecond}
	got := strings.Join(p.Args("/tmp/o"), " ")
	want := `-p out=/tmp/o -p delay=0.015 -p rounds=2 -p items=["x","y"] -p branch_iterations=1`
	if got != want {
		t.Errorf("args %s, want %s", got, want)
	}
}

func TestCheckFileGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flow.db")
	st, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := chaos.CheckFile(path); err != nil {
		t.Error(err)
	}
}
