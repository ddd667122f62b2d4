package script_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbatch/flow/cli"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	_ "github.com/flowbatch/flow/steps/batch/files" // reader "csv", writers "csv" and "jsonl"
)

const e2eFlow = `flow "settle" {
  param "concurrency" { default = 1 }

  script "prepare" {
    code = <<-JS
      return { threshold: 10, out: "out/" + flow.name + ".csv" };
    JS
  }

  batch "load" {
    chunk_size  = 3
    concurrency = param.concurrency

    reader "csv" {
      path   = "in.csv"
      schema = { id = "int", amount = "decimal" }
    }

    processor "js" {
      params = { threshold = step.prepare.threshold }
      code   = <<-JS
        if (item.amount < ctx.params.threshold) return;   // filtered
        return { ...item, cents: Math.round(item.amount * 100), currency: item.currency.toLowerCase(), big: item.amount > 5000 };
      JS
    }

    writer "csv" { path = step.prepare.out }
    writer "jsonl" "big" {
      path   = "out/big.jsonl"
      filter = "item.big"
    }
  }

  output "written" { value = step.load.write_count }
}
`

const e2eInput = `id,account,amount,currency
1,A1,10.50,EUR
2,A2,9.99,USD
3,A1,5000.01,GBP
4,A3,0.10,EUR
5,A2,1234.5,USD
6,A1,99999.99,EUR
7,A3,10,USD
`

// The whole path: CSV in, a JS processor, CSV and JSONL out, with a
// script step feeding the batch step.
func TestEndToEndCSV(t *testing.T) {
	for _, conc := range []string{"1", "2"} {
		t.Run("concurrency="+conc, func(t *testing.T) {
			dir := flowtest.Write(t, map[string]string{"main.flow.hcl": e2eFlow, "in.csv": e2eInput})
			var stdout, stderr bytes.Buffer
			code := cli.Main([]string{"exec", "--no-store", filepath.Join(dir, "main.flow.hcl"), "-p", "concurrency=" + conc}, strings.NewReader(""), &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
			}
			out, err := os.ReadFile(filepath.Join(dir, "out", "settle.csv"))
			if err != nil {
				t.Fatal(err)
			}
			want := `id,account,amount,currency,cents,big
1,A1,10.50,eur,1050,false
3,A1,5000.01,gbp,500001,true
5,A2,1234.5,usd,123450,false
6,A1,99999.99,eur,9999999,true
7,A3,10,usd,1000,false
`
			if conc == "1" && string(out) != want {
				t.Errorf("out.csv:\n%s\nwant:\n%s", out, want)
			}
			if conc != "1" && len(strings.Split(string(out), "\n")) != len(strings.Split(want, "\n")) {
				t.Errorf("out.csv:\n%s", out)
			}
			big, err := os.ReadFile(filepath.Join(dir, "out", "big.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(big), `"amount":5000.01`) || !strings.Contains(string(big), `"amount":99999.99`) || strings.Count(string(big), "\n") != 2 {
				t.Errorf("big.jsonl:\n%s", big)
			}
		})
	}
}

// flow validate reports JavaScript syntax errors with their position
// before anything runs.
func TestValidateReportsJS(t *testing.T) {
	src := strings.Replace(e2eFlow, "if (item.amount < ctx.params.threshold) return;", "if (item.amount < ) return;", 1)
	dir := flowtest.Write(t, map[string]string{"main.flow.hcl": src, "in.csv": e2eInput})
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"validate", filepath.Join(dir, "main.flow.hcl")}, strings.NewReader(""), &stdout, &stderr)
	all := stdout.String() + stderr.String()
	if code == 0 || !strings.Contains(all, "main.flow.hcl:22:27: error: JavaScript syntax error") ||
		!strings.Contains(all, "if (item.amount < ) return;") || !strings.Contains(all, "Unexpected token )") {
		t.Errorf("exit %d:\n%s", code, all)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("validate ran something")
	}
	_ = flow.Completed
}
