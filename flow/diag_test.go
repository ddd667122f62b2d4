package flow_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/internal/flowtest" // registers the standard steps and decorators
)

var update = flag.Bool("update", false, "rewrite the golden files of the diagnostic tests")

// renderDiags loads path and returns its diagnostics as the CLI prints
// them (without colour or wrapping).
func renderDiags(t *testing.T, path string) (string, hcl.Diagnostics, map[string]*hcl.File) {
	t.Helper()
	set, diags := flow.Load(path, nil)
	files := set.Files()
	var buf bytes.Buffer
	if err := flow.WriteDiagnostics(&buf, files, diags, false); err != nil {
		t.Fatal(err)
	}
	return buf.String(), diags, files
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./flow -run Diag -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("diagnostics differ from %s (run with -update to accept)\n--- got ---\n%s\n--- want ---\n%s", golden, got, want)
	}
}

// checkDiags asserts what every golden case shares: at least one
// diagnostic, all errors, each with a position in a file the set parsed
// (so that the source line is shown), none reported twice.
//
// Every case here can have a position. The one diagnostic that cannot is
// a file or directory given to flow.Load that does not exist or cannot be
// read: there is no source to point at. That is not a flow file mistake
// and is not among the cases; when the unreadable file is named by a call
// step, the position of the step's flow attribute is attached.
func checkDiags(t *testing.T, diags hcl.Diagnostics, files map[string]*hcl.File) {
	t.Helper()
	if len(diags) == 0 {
		t.Fatal("no diagnostic: the mistake went undetected")
	}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			t.Errorf("severity %v, want error: %s", d.Severity, d.Error())
		}
		if d.Subject == nil {
			t.Errorf("diagnostic without a position: %s", d.Error())
			continue
		}
		if d.Subject.Start.Line < 1 || files[d.Subject.Filename] == nil {
			t.Errorf("diagnostic positioned outside the parsed files (%v): %s", d.Subject, d.Error())
		}
	}
	seen := map[string]bool{}
	for _, d := range diags {
		k := d.Error()
		if seen[k] {
			t.Errorf("reported twice: %s", k)
		}
		seen[k] = true
	}
}

func TestDiagGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "diags", "*"+flow.FileSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("found %d diagnostic cases, want at least 25", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), flow.FileSuffix)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(src, []byte("#")) {
				t.Errorf("%s must start with a comment saying which mistake it shows", file)
			}
			got, diags, files := renderDiags(t, file)
			checkDiags(t, diags, files)
			checkGolden(t, strings.TrimSuffix(file, flow.FileSuffix)+".golden", got)
		})
	}
}

// TestDiagCallCycle loads a.flow.hcl, which calls b.flow.hcl, which calls
// a.flow.hcl again. The cycle must be reported, once, at the call that
// closes it.
func TestDiagCallCycle(t *testing.T) {
	file := filepath.Join("testdata", "diags", "cycle", "a"+flow.FileSuffix)
	got, diags, files := renderDiags(t, file)
	checkDiags(t, diags, files)
	cycles := 0
	for _, d := range diags {
		if d.Summary == "Call cycle" {
			cycles++
		}
	}
	if cycles != 1 {
		t.Errorf("%d call cycle diagnostics, want 1:\n%s", cycles, got)
	}
	checkGolden(t, filepath.Join("testdata", "diags", "cycle", "a.golden"), got)
}

// TestDiagValidExample makes sure the checks do not reject a good flow.
func TestDiagValidExample(t *testing.T) {
	got, diags, _ := renderDiags(t, filepath.Join("..", "examples", "hello", "hello"+flow.FileSuffix))
	if len(diags) > 0 {
		t.Fatalf("examples/hello has diagnostics:\n%s", got)
	}
}
