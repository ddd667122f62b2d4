package files_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbatch/flow/internal/flowtest"
)

// The readers' and writers' load-time checks: what flow validate reports
// of a reader or writer block, with the position of the bad value.
func TestComponentChecks(t *testing.T) {
	bank, err := os.ReadFile(filepath.Join("testdata", "fixed", "bank.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	// flowSrc puts a reader and a writer in a batch step; the reader
	// starts on line 6.
	flowSrc := func(reader, writer string) string {
		return "flow \"x\" {\n  param \"t\" {\n default = \"int\"\n }\n  batch \"b\" {\n" + reader + "\n" + writer + "\n  }\n}\n"
	}
	csvOut := `writer "csv" { path = "out.csv" }`
	for _, tc := range []struct {
		name, reader, writer string
		want                 []string // "line:col: summary: detail prefix"; none: valid
	}{
		{"csv schema", `reader "csv" {
  path   = "in.csv"
  schema = { id = "int", amount = "decmal" }
}`, csvOut, []string{`8:35: Unknown field type: schema: field amount: "decmal" is not a field type; use "string", "int", "decimal", "float", "bool" or "timestamp". Did you mean "decimal"?`}},
		{"jsonl schema", `reader "jsonl" {
  path   = "in.jsonl"
  schema = { amount = "money", id = param.t }
}`, csvOut, []string{`8:23: Unknown field type: schema: field amount: "money" is not a field type`}},
		{"schemas that are fine", `reader "csv" {
  path   = "in.csv"
  schema = { id = param.t, amount = "Decimal", ts = "datetime" }
}`, csvOut, nil},
		{"fixed fields list", `reader "fixed" {
  path = "in.dat"
  body {
    fields = [
      { name = "a", length = 3, type = "decmal" },
      { name = "b", lenght = 3 },
      { length = 2, type = "int" },
      { name = "c", codec = "int32b" },
      { name = param.t, length = 1 },
    ]
  }
}`, csvOut, []string{
			`10:40: Invalid field: body: fields[0]: type: "decmal" is not one of "string", "int", "decimal", "float", "bool", "timestamp". Did you mean "decimal"?`,
			`11:21: Invalid field: body: fields[1]: unknown attribute "lenght" (a field takes name, length, type`,
			"12:21: Invalid field: body: fields[2]: a filler (an object with no name) takes only length and pad, not type.",
			`13:29: Invalid field: body: fields[3]: codec: "int32b" is not one of "text", "int8"`,
		}},
		{"fixed model", `reader "fixed" {
  path = "in.dat"
  body {
    length = 5
    fields = [{ name = "a", length = 4 }]
  }
  trailer {
    fields = [{ name = "s", length = 4, type = "int", sum_of = "b" }]
  }
}`, csvOut, []string{`8:3: Invalid fixed-width model: body: length is 5 but the fields add up to 4 bytes.`}},
		{"fixed field block", `reader "fixed" {
  path = "in.dat"
  body {
    field "a" {
      length = 2
      pad    = "00"
    }
  }
}`, csvOut, []string{`9:5: Invalid fixed-width model: body: field a: pad must be one ASCII character, not "00".`}},
		{"fixed writer values", `reader "csv" { path = "in.csv" }`, `writer "fixed" {
  path          = "out.dat"
  header_values = { nope = 1 }
  header {
    fields = [{ name = "a", length = 1 }]
  }
  body {
    fields = [{ name = "b", length = 1 }]
  }
}`, []string{`9:19: Invalid header_values: header_values: the header has no field "nope" (fields: a).`}},
		{"csv characters", `reader "csv" {
  path      = "in.csv"
  delimiter = ";;"
  quote     = "'"
  header    = false
  skip_rows = -1
}`, `writer "csv" {
  path      = "out.csv"
  delimiter = "\""
}`, []string{
			`8:15: Invalid delimiter: delimiter must be one ASCII character, not ";;".`,
			`10:15: Missing columns: header = false needs columns`,
			`11:15: Invalid skip_rows: skip_rows cannot be negative.`,
			`15:15: Invalid delimiter: the delimiter cannot be the quote`,
		}},
		{"csv quote is the delimiter", `reader "csv" {
  path      = "in.csv"
  delimiter = "\""
}`, csvOut, []string{`8:15: Invalid delimiter: quote and delimiter must differ.`}},
		{"csv with columns", `reader "csv" {
  path      = "in.csv"
  delimiter = ";"
  quote     = ""
  header    = false
  columns   = ["id", "amount"]
}`, csvOut, nil},
		{"fixed model with a variable", `reader "fixed" {
  path = "in.dat"
  body {
    length = 5
    fields = [{ name = "a", length = 4, type = param.t }]
  }
}`, csvOut, nil},
		{"bank model", "reader \"fixed\" {\n  path = \"in.dat\"\n" + string(bank) + "\n}", "writer \"fixed\" {\n  path = \"out.dat\"\n  header_values = { bank = \"B001\" }\n" + string(bank) + "\n}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diags := flowtest.Diags(t, flowSrc(tc.reader, tc.writer))
			var got []string
			for _, d := range diags {
				pos := "none"
				if d.Subject != nil {
					pos = fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
				}
				got = append(got, fmt.Sprintf("%s: %s: %s", pos, d.Summary, d.Detail))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("diagnostic %d:\n%s\nwant:\n%s", i, got[i], tc.want[i])
				}
			}
		})
	}
}
