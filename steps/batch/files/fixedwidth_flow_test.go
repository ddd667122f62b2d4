package files_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	_ "github.com/flowbatch/flow/steps/batch/files" // the file readers and writers
)

// TestFixedFlow runs the bank sample through a batch step declared in HCL:
// a fixed reader, a fixed writer with the same model (the copy must be
// byte-identical) and a jsonl writer (the records must be the golden ones).
func TestFixedFlow(t *testing.T) {
	model, err := os.ReadFile(filepath.Join("testdata", "fixed", "bank.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "fixed", "bank.dat"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "fixed", "bank.json"))
	if err != nil {
		t.Fatal(err)
	}
	src := `
flow "fixed" {
  batch "convert" {
    chunk_size = 3
    reader "fixed" {
      path = "in/bank.dat"
` + string(model) + `
    }
    writer "fixed" "copy" {
      path          = "out/bank.dat"
      header_values = { bank = "B001", date = "20261120" }
` + string(model) + `
    }
    writer "jsonl" {
      path = "out/bank.jsonl"
    }
  }
  output "read" { value = step.convert.read_count }
}
`
	dir := flowtest.Write(t, map[string]string{"main.flow.hcl": src, "in/bank.dat": string(data)})
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	res, _ := flowtest.RunFlow(t, t.Context(), f, nil)
	if res.Status != flow.Completed {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	if got := flowtest.Output(res, "read"); got != "4" {
		t.Errorf("read_count %s", got)
	}
	copyOut, _ := os.ReadFile(filepath.Join(dir, "out", "bank.dat"))
	if string(copyOut) != string(data) {
		t.Errorf("copy:\n%q\nwant:\n%q", copyOut, data)
	}
	jsonl, _ := os.ReadFile(filepath.Join(dir, "out", "bank.jsonl"))
	if string(jsonl) != string(want) {
		t.Errorf("jsonl:\n%s\nwant:\n%s", jsonl, want)
	}
}

// TestFixedFlowDiagnostics: the loader checks the nested blocks against
// the schemas the fixed reader and writer declare.
func TestFixedFlowDiagnostics(t *testing.T) {
	cases := []struct{ body, want string }{
		{`header { fields = [] }`, "Missing body block"},
		{"body {\n field \"a\" {\n length = 2\n codec = \"int33be\"\n }\n}", `"int33be" is not one of`},
		{"body {\n field \"a\" {\n lenght = 2\n }\n}", `An argument named "lenght" is not expected here`},
		{"body {\n field {\n length = 2\n }\n}", "Missing name for field"},
		{"body { fields = [] }\nbody { fields = [] }", "Too many body blocks"},
		{"body {\n filler {\n pad = \"-\"\n }\n}", `The argument "length" is required`},
		{"body {\n field \"a\" {\n length = 2\n check = \"sum\"\n }\n}", `"sum" is not one of "count"`},
	}
	for _, tc := range cases {
		src := "flow \"x\" {\n  batch \"b\" {\n    reader \"fixed\" {\n      path = \"in.dat\"\n" + tc.body + "\n    }\n    writer \"jsonl\" { path = \"o.jsonl\" }\n  }\n}\n"
		diags := flowtest.Diags(t, src)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s\n  diagnostics: %v\n  want %q", tc.body, diags, tc.want)
		}
	}
}
