// The examples under examples/ run here as tests: each one's outputs are
// checked, with its default params and with others. `make demo` runs the
// same flows through the flow binary.
//
// The package name is shared with docs_test.go, the other test of the
// repository root (one directory holds one package); the helpers here start
// with "ex" to keep out of its way.
package flowbatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

type exCase struct {
	name   string
	params map[string]cty.Value
	// outParam, when set, names a param that gets tmp/out: where the
	// example writes its files, instead of its own directory.
	outParam string
	status   flow.Status
	check    func(t *testing.T, res *flow.Result, tmp string)
}

// examples lists the cases of each example directory; every directory
// under examples/ must have at least one.
var exCases = map[string][]exCase{
	"hello": {
		{name: "defaults", status: flow.Completed, check: func(t *testing.T, res *flow.Result, _ string) {
			exWantOutput(t, res, "greeting", `"Hello, world!"`)
			exWantOutput(t, res, "ticks", "3")
			exWantOutput(t, res, "replies", `["hi ada","hi grace","hi linus"]`)
		}},
		{name: "name", params: exStrings("name", "Ada"), status: flow.Completed, check: func(t *testing.T, res *flow.Result, _ string) {
			exWantOutput(t, res, "greeting", `"Hello, Ada!"`)
		}},
	},
	"retry": {
		{name: "defaults", status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			// Two failures, so the third call succeeds.
			exWantOutput(t, res, "flaky", `"call 3: ok"`)
			exWantOutput(t, res, "recovered", `"main/work/hopeless: ./flaky.sh exited with code 1: call 2: service unavailable"`)
			exWantRemoved(t, res, tmp)
		}},
		{name: "no failures", params: exNumbers("failures", 0), status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			exWantOutput(t, res, "flaky", `"call 1: ok"`)
			exWantRemoved(t, res, tmp)
		}},
		{name: "last attempt", params: exNumbers("failures", 3), status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			exWantOutput(t, res, "flaky", `"call 4: ok"`)
		}},
		{name: "attempts exhausted", params: exNumbers("failures", 4), status: flow.Failed, check: func(t *testing.T, res *flow.Result, tmp string) {
			if flow.StepOf(res.Err) != "main/work/flaky" || !strings.Contains(flow.MessageOf(res.Err), "call 4: service unavailable") {
				t.Errorf("error: %v", res.Err)
			}
			exWantRemoved(t, res, tmp) // finally ran although the step failed
		}},
	},
	"fanout": {
		{name: "defaults", status: flow.Completed, check: func(t *testing.T, res *flow.Result, _ string) {
			exWantOutput(t, res, "lines", `{"a.txt":3,"b.txt":5,"c.txt":1,"d.txt":4}`)
			exWantOutput(t, res, "total", "13")
			exWantOutput(t, res, "verdict", `"large"`)
		}},
		{name: "some files", params: exStrings("pattern", "[ab].txt"), status: flow.Completed, check: func(t *testing.T, res *flow.Result, _ string) {
			exWantOutput(t, res, "lines", `{"a.txt":3,"b.txt":5}`)
			exWantOutput(t, res, "total", "8")
			exWantOutput(t, res, "verdict", `"small"`)
		}},
		{name: "threshold", params: exNumbers("max_lines", 13), status: flow.Completed, check: func(t *testing.T, res *flow.Result, _ string) {
			exWantOutput(t, res, "total", "13")
			exWantOutput(t, res, "verdict", `"small"`)
		}},
		{name: "no files", params: exStrings("pattern", "*.csv"), status: flow.Completed, check: func(t *testing.T, res *flow.Result, _ string) {
			exWantOutput(t, res, "lines", `{}`)
			exWantOutput(t, res, "total", "0")
			exWantOutput(t, res, "verdict", `"small"`)
		}},
	},
	"batch": {
		{name: "defaults", outParam: "out", status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			exWantOutput(t, res, "read", "2000")
			exWantOutput(t, res, "written", "2000")
			exWantOutput(t, res, "skipped", "3")
			exWantOutput(t, res, "verdict", `"3 malformed rows skipped"`)
			exBatchFiles(t, filepath.Join(tmp, "out"))
		}},
		{name: "skip limit", outParam: "out", params: exNumbers("max_skips", 2), status: flow.Failed, check: func(t *testing.T, res *flow.Result, tmp string) {
			msg := flow.MessageOf(res.Err)
			if flow.StepOf(res.Err) != "main/convert" || !strings.Contains(msg, "skip limit 2 reached") ||
				!strings.Contains(msg, "data/payments.csv:1704") {
				t.Errorf("error: %v", res.Err)
			}
		}},
	},
	"bankfile": {
		{name: "defaults", outParam: "out", status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			exWantOutput(t, res, "movements", "24")
			exBankFiles(t, filepath.Join(tmp, "out"), 24, "21326.21")
		}},
		{name: "trailer count wrong", outParam: "out", params: exStrings("file", "data/statement-20261121.dat"), status: flow.Failed, check: func(t *testing.T, res *flow.Result, tmp string) {
			msg := flow.MessageOf(res.Err)
			if flow.StepOf(res.Err) != "main/convert" || !strings.Contains(msg, "data/statement-20261121.dat@1053 (record 14, trailer): field count") ||
				!strings.Contains(msg, "the trailer counts 13 body records, the file has 12") {
				t.Errorf("error: %v", res.Err)
			}
		}},
	},
	"poll": {
		{name: "defaults", status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			exWantOutput(t, res, "report", `"report for poll"`)
			polls := res.Outputs["polls"]
			if polls.Type() != cty.Number {
				t.Fatalf("polls: %#v", polls)
			}
			// The producer waits 300ms and the poll every 50ms: it takes
			// more than one check, and far fewer than max_polls.
			if n, _ := polls.AsBigFloat().Int64(); n < 2 || n >= 100 {
				t.Errorf("polls = %d", n)
			}
			exWantRemoved(t, res, tmp)
		}},
		{name: "ready at once", params: exStrings("delay", "0s"), status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			exWantOutput(t, res, "report", `"report for poll"`)
		}},
		{name: "gives up", params: exMerge(exStrings("delay", "1m"), exNumbers("max_polls", 3)), status: flow.Failed, check: func(t *testing.T, res *flow.Result, tmp string) {
			if flow.StepOf(res.Err) != "main/wait_for_report/work/poll" || !strings.Contains(flow.MessageOf(res.Err), "max_iterations (3)") {
				t.Errorf("error: %v", res.Err)
			}
			exWantRemoved(t, res, tmp) // the producer was cancelled, and finally cleaned up
		}},
	},
	// SQLite in tmp/out (driver and dsn given, so that LEDGER_DRIVER and
	// LEDGER_DSN do not matter). examples/settlement/settlement_test.go
	// checks the ledger's rows, re-runs, and PostgreSQL.
	"settlement": {
		{name: "sqlite", outParam: "out", params: exMerge(exStrings("driver", "sqlite"), exStrings("dsn", "")), status: flow.Completed, check: func(t *testing.T, res *flow.Result, tmp string) {
			exWantOutput(t, res, "loaded", "287")
			exWantOutput(t, res, "skipped", "7")
			exWantOutput(t, res, "filtered", "6")
			exWantOutput(t, res, "totals", `{"accounts":12,"credits_cents":28618216,"debits_cents":20474270,"net_cents":8143946,"transactions":287}`)
			exWantOutput(t, res, "by_branch", `{"harbour":1375341,"north":3374266,"south":3394339}`)
			exWantOutput(t, res, "verdict", `"7 rows skipped"`)
			if _, err := os.Stat(filepath.Join(tmp, "out", "ledger.db")); err != nil {
				t.Error(err)
			}
		}},
		{name: "skip limit", outParam: "out", params: exMerge(exStrings("driver", "sqlite"), exStrings("dsn", ""), exNumbers("max_skips", 6)), status: flow.Failed, check: func(t *testing.T, res *flow.Result, tmp string) {
			if flow.StepOf(res.Err) != "main/load" || !strings.Contains(flow.MessageOf(res.Err), "skip limit 6 reached") ||
				!strings.Contains(flow.MessageOf(res.Err), "data/2026-11-20.csv:") {
				t.Errorf("error: %v", res.Err)
			}
		}},
		{name: "no file for the date", outParam: "out", params: exMerge(exStrings("driver", "sqlite"), exStrings("dsn", ""), exStrings("biz_date", "2026-11-21")), status: flow.Failed, check: func(t *testing.T, res *flow.Result, tmp string) {
			if flow.StepOf(res.Err) != "main/load" || !strings.Contains(flow.MessageOf(res.Err), "data/2026-11-21.csv") {
				t.Errorf("error: %v", res.Err)
			}
		}},
	},
}

func exStrings(k, v string) map[string]cty.Value { return map[string]cty.Value{k: cty.StringVal(v)} }

func exNumbers(k string, v int64) map[string]cty.Value {
	return map[string]cty.Value{k: cty.NumberIntVal(v)}
}

func exMerge(ms ...map[string]cty.Value) map[string]cty.Value {
	out := map[string]cty.Value{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// exWantOutput compares an output, as JSON, with want.
func exWantOutput(t *testing.T, res *flow.Result, name, want string) {
	t.Helper()
	v, ok := res.Outputs[name]
	if !ok {
		t.Errorf("no output %s", name)
		return
	}
	got, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := json.Compact(&w, []byte(want)); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	if string(got) != w.String() {
		t.Errorf("output %s = %s, want %s", name, got, w.String())
	}
}

// exWantRemoved checks that the example's scratch directory (made with
// mktemp under tmp, the TMPDIR of the run) is gone.
func exWantRemoved(t *testing.T, res *flow.Result, tmp string) {
	t.Helper()
	if v, ok := res.Outputs["scratch"]; ok {
		dir := v.AsString()
		if !strings.HasPrefix(dir, tmp) {
			t.Errorf("scratch %s is not under TMPDIR %s", dir, tmp)
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("the scratch directory was not removed: %v", left)
	}
}

// exBatchFiles checks the files examples/batch writes to dir: every good
// row of data/payments.csv once in payments.jsonl, with its types, each
// account's rows in file order; the three malformed rows in the skip log
// with their line; three columns in amounts.csv.
func exBatchFiles(t *testing.T, dir string) {
	t.Helper()
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	lastID := map[string]int64{}
	seen := map[int64]bool{}
	for i, line := range read("payments.jsonl") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("payments.jsonl:%d: %v", i+1, err)
		}
		id, err := r["id"].(json.Number).Int64()
		if err != nil {
			t.Fatalf("payments.jsonl:%d: id %v", i+1, r["id"])
		}
		acct, _ := r["account"].(string)
		if seen[id] || id < 1 || id > 2000 {
			t.Errorf("payments.jsonl:%d: id %d again or unknown", i+1, id)
		}
		seen[id] = true
		if id < lastID[acct] {
			t.Errorf("payments.jsonl:%d: id %d of %s after id %d: the account's order is lost", i+1, id, acct, lastID[acct])
		}
		lastID[acct] = id
		if a, ok := r["amount"].(json.Number); !ok || !regexp.MustCompile(`^\d+\.\d\d$`).MatchString(a.String()) {
			t.Errorf("payments.jsonl:%d: amount %v is not an exact decimal number", i+1, r["amount"])
		}
	}
	if len(seen) != 2000 {
		t.Errorf("payments.jsonl has %d distinct ids, want 2000", len(seen))
	}
	var where []string
	for _, line := range read("skipped.jsonl") {
		var s struct{ Stage, Where, Error string }
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("skipped.jsonl: %v: %s", err, line)
		}
		if s.Stage != "read" || s.Error == "" {
			t.Errorf("skipped.jsonl: %s", line)
		}
		where = append(where, s.Where)
	}
	if want := []string{"data/payments.csv:502", "data/payments.csv:1203", "data/payments.csv:1704"}; !slices.Equal(where, want) {
		t.Errorf("skipped rows at %v, want %v", where, want)
	}
	amounts := read("amounts.csv")
	if len(amounts) != 2001 || amounts[0] != "id,account,amount" {
		t.Errorf("amounts.csv: %d lines, header %q", len(amounts), amounts[0])
	}
}

// exBankFiles checks what examples/bankfile writes to dir: n movements
// with exact amounts summing to total (the trailer's), and in large.jsonl
// those of 1,000 or more either way, in the same order.
func exBankFiles(t *testing.T, dir string, n int, total string) {
	t.Helper()
	cents := func(a json.Number) int64 {
		if !regexp.MustCompile(`^-?\d+\.\d\d$`).MatchString(a.String()) {
			t.Fatalf("amount %s is not an exact decimal with two places", a)
		}
		v, err := strconv.ParseInt(strings.Replace(a.String(), ".", "", 1), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	read := func(name string) []map[string]any {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			var r map[string]any
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s:%d: %v", name, i+1, err)
			}
			out = append(out, r)
		}
		return out
	}
	all, large := read("movements.jsonl"), read("large.jsonl")
	if len(all) != n {
		t.Errorf("movements.jsonl has %d lines, want %d", len(all), n)
	}
	var sum int64
	var want []string
	for i, r := range all {
		if len(r) != 7 || r["tag"] != "D" || len(r["account"].(string)) != 11 || r["description"] == "" {
			t.Errorf("movements.jsonl:%d: %v", i+1, r)
		}
		if _, err := time.Parse(time.RFC3339, r["value_date"].(string)); err != nil {
			t.Errorf("movements.jsonl:%d: value_date: %v", i+1, err)
		}
		c := cents(r["amount"].(json.Number))
		sum += c
		if c >= 100000 || c <= -100000 {
			want = append(want, r["reference"].(string))
		}
	}
	sign, abs := "", sum
	if sum < 0 {
		sign, abs = "-", -sum
	}
	if got := fmt.Sprintf("%s%d.%02d", sign, abs/100, abs%100); got != total {
		t.Errorf("the amounts sum to %s, the trailer says %s", got, total)
	}
	var got []string
	for _, r := range large {
		got = append(got, r["reference"].(string))
	}
	if !slices.Equal(got, want) {
		t.Errorf("large.jsonl holds %v, want %v", got, want)
	}
}

// exampleFlows lists examples/*/*.flow.hcl by directory.
func exFlows(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("examples", "*", "*.flow.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		dir := filepath.Base(filepath.Dir(f))
		if prev, ok := out[dir]; ok {
			t.Fatalf("examples/%s holds two flows (%s, %s); the test expects one", dir, prev, f)
		}
		out[dir] = f
	}
	return out
}

func TestExamples(t *testing.T) {
	flows := exFlows(t)
	for _, dir := range []string{"hello", "retry", "fanout", "poll", "batch"} {
		if _, ok := flows[dir]; !ok {
			t.Errorf("examples/%s has no flow", dir)
		}
	}
	for dir, path := range flows {
		cases, ok := exCases[dir]
		if !ok {
			t.Errorf("examples/%s has no test case in examples_test.go", dir)
			continue
		}
		t.Run(dir, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					// Scratch files of the examples (mktemp) go to a
					// directory of the test's own.
					tmp := t.TempDir()
					t.Setenv("TMPDIR", tmp)
					f, diags := flowtest.LoadFile(t, path)
					if diags.HasErrors() {
						t.Fatal(diags.Error())
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					params := tc.params
					if tc.outParam != "" {
						params = exMerge(params, exStrings(tc.outParam, filepath.Join(tmp, "out")))
					}
					res, rec := flowtest.RunFlow(t, ctx, f, params)
					if res.Status != tc.status {
						t.Fatalf("status %s, want %s (error: %v)", res.Status, tc.status, res.Err)
					}
					if len(rec.Of(flow.StepCompleted)) == 0 {
						t.Error("no step completed")
					}
					tc.check(t, res, tmp)
				})
			}
		})
	}
}

// TestExamplesFormatted keeps the examples in `flow fmt` style, so that
// they can be copied as they are.
func TestExamplesFormatted(t *testing.T) {
	flows := exFlows(t)
	if len(flows) == 0 {
		t.Fatal("no examples found")
	}
	names := make([]string, 0, len(flows))
	for _, f := range flows {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(hclwrite.Format(src)) != string(src) {
			t.Errorf("%s is not formatted: run flow fmt %s", f, f)
		}
	}
}
