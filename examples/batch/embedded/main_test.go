package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/flowbatch/flow/steps/batch/record"
)

// The example builds, and the binary runs classify.flow.hcl with its Go
// processor: the standard CLI, readers and writers are all there.
func TestEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "classify")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(tmp, "out")
	cmd := exec.Command(bin, "exec", "classify.flow.hcl", "--no-store", "-p", "out="+out, "-p", "threshold=1000.5", "-o", "json")
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	var res struct {
		Status  string         `json:"status"`
		Outputs map[string]int `json:"outputs"`
	}
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	// ts is not typed here, so of the three malformed rows of the data,
	// the one with a bad timestamp is read; the other two are skipped.
	if res.Status != "COMPLETED" || res.Outputs["read"] != 2001 || res.Outputs["skipped"] != 2 {
		t.Errorf("result: %s", stdout)
	}
	f, err := os.Open(filepath.Join(out, "classified.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2002 || strings.Join(rows[0], ",") != "id,account,amount,currency,class" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	classes := map[string]int{}
	for _, r := range rows[1:] {
		amount, err := record.ParseDecimal(r[2])
		if err != nil {
			t.Fatal(err)
		}
		f, _ := amount.Float()
		want := "small"
		if f >= 1000.5 {
			want = "large"
		}
		if r[4] != want {
			t.Errorf("id %s: amount %s is %s, want %s", r[0], r[2], r[4], want)
		}
		classes[r[4]]++
	}
	if classes["small"] == 0 || classes["large"] == 0 {
		t.Errorf("classes %v", classes)
	}

	// The binary knows the processor when it checks a flow, too.
	r := exec.Command(bin, "validate", "classify.flow.hcl")
	if b, err := r.CombinedOutput(); err != nil {
		t.Errorf("validate: %v\n%s", err, b)
	}
}

func TestLess(t *testing.T) {
	for _, tt := range []struct {
		a, b record.Value
		want bool
	}{
		{record.Dec(99999, 2), record.Dec(1000, 0), true},
		{record.Dec(100000, 2), record.Dec(1000, 0), false},
		{record.Dec(10005, 1), record.Dec(100050, 2), false},
		{record.Dec(10004, 1), record.Dec(100050, 2), true},
		{record.IntVal(-1), record.Dec(0, 2), true},
	} {
		if got := less(tt.a, tt.b); got != tt.want {
			t.Errorf("less(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

func TestFlowFormatted(t *testing.T) {
	src, err := os.ReadFile("classify.flow.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if string(hclwrite.Format(src)) != string(src) {
		t.Error("classify.flow.hcl is not formatted: run flow fmt on it")
	}
}
