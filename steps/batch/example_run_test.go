package batch_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/steps" // the batch step and its file readers and writers
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// Register the processor once, before any flow that names it is loaded:
// in a program, in main or an init function. (Registering a name twice
// panics, as database/sql.Register does.)
func init() {
	batch.RegisterFunc("mask_account", "Masks account numbers but their last four characters; drops zero amounts.", maskAccount)
}

// maskAccount is a processor written in Go: it gets each record and emits
// zero, one or several records. Here a record with a zero amount is
// dropped (filtered), and the others are emitted with their account
// masked. An error would go to the step's skip policy, naming the record.
func maskAccount(c *batch.Chunk, in *record.Record, emit func(*record.Record)) error {
	amount, _ := in.Get("amount")
	if units, _, ok := amount.Decimal(); ok && units == 0 {
		return nil // nothing emitted: counted in filter_count
	}
	acct, _ := in.Get("account")
	s := acct.Str()
	if len(s) < 4 {
		return fmt.Errorf("account %q: too short to mask", s)
	}
	out := record.New(in.Schema) // the reader's schema: shared, never changed
	copy(out.Values, in.Values)
	if err := out.Set("account", record.Str(strings.Repeat("*", len(s)-4)+s[len(s)-4:])); err != nil {
		return err
	}
	out.Source, out.Line = in.Source, in.Line // where skips and errors point
	emit(out)
	return nil
}

const maskFlow = `
flow "mask" {
  batch "copy" {
    reader "csv" {
      path   = "in.csv"
      schema = { amount = "decimal" }
    }
    processor "mask_account" {}
    writer "jsonl" {
      path = "out.jsonl"
    }
  }
  output "written" {
    value = step.copy.write_count
  }
  output "filtered" {
    value = step.copy.filter_count
  }
}
`

// A processor written in Go, registered with batch.RegisterFunc and used
// from a flow as processor "mask_account". The same registration in a
// program that calls cli.Main gives the flow command the processor (see
// examples/batch/embedded).
func Example_registerFunc() {
	dir, err := os.MkdirTemp("", "mask")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	csv := "account,amount\nFR7630001007941234,12.50\nDE8937040044053201,0.00\nGB29NWBK60161331926819,-3.20\n"
	for name, text := range map[string]string{"in.csv": csv, "mask.flow.hcl": maskFlow} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}

	set, diags := flow.Load(filepath.Join(dir, "mask.flow.hcl"), nil)
	if diags.HasErrors() {
		log.Fatal(diags.Error())
	}
	f, _ := set.Only()
	res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, "written:", flow.FormatValue(res.Outputs["written"]), "filtered:", flow.FormatValue(res.Outputs["filtered"]))
	out, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(out))
	// Output:
	// COMPLETED written: 2 filtered: 1
	// {"account":"**************1234","amount":12.50}
	// {"account":"******************6819","amount":-3.20}
}
