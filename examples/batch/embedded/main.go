// Command classify is the flow command line with one more batch
// processor, written in Go: what a program embedding Flowbatch looks like.
// It registers processor "classify" and hands over to cli.Main, so it has
// every command and every standard step, reader and writer of flow, and
// classify.flow.hcl can use the new processor:
//
//	go build -o classify ./examples/batch/embedded
//	./classify exec examples/batch/embedded/classify.flow.hcl
package main

import (
	"fmt"
	"os"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/cli"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

func main() {
	batch.RegisterProcessor(&batch.ProcessorType{
		Name:    "classify",
		Summary: "Keeps id, account, amount and currency, and adds class: \"large\" when amount is at least threshold, else \"small\".",
		Attrs: []flow.Attr{
			{Name: "threshold", Type: cty.Number, Default: cty.NumberIntVal(1000), Doc: "The smallest large amount."},
		},
		New: newClassify,
	})
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// out is the schema of every record classify emits: one schema for all
// of them, made once (writers look fields up by schema).
var out, _ = record.NewSchema(
	record.Field{Name: "id"}, record.Field{Name: "account"}, record.Field{Name: "amount"},
	record.Field{Name: "currency"}, record.Field{Name: "class"},
)

func newClassify(c *batch.Config) (batch.RecordProcessor, error) {
	threshold := cty.NumberIntVal(1000)
	if v := c.Attrs["threshold"]; !v.IsNull() {
		threshold = v
	}
	// The threshold as an exact decimal, as the amounts are.
	limit, err := record.ParseDecimal(threshold.AsBigFloat().Text('f', -1))
	if err != nil {
		return nil, fmt.Errorf("threshold: %w", err)
	}
	return batch.ProcessorFunc[*record.Record, *record.Record](func(_ *batch.Chunk, in *record.Record, emit func(*record.Record)) error {
		amount, _ := in.Get("amount")
		if _, _, ok := amount.Decimal(); !ok {
			return fmt.Errorf("field amount: want a decimal (declare it in the reader's schema), got %s %q", amount.Kind(), amount.Text())
		}
		class := "small"
		if !less(amount, limit) {
			class = "large"
		}
		r := record.New(out)
		for i, name := range []string{"id", "account", "amount", "currency"} {
			r.Values[i], _ = in.Get(name)
		}
		r.Values[4] = record.Str(class)
		r.Source, r.Line = in.Source, in.Line
		emit(r)
		return nil
	}), nil
}

// less compares two decimals exactly, bringing them to one scale.
func less(a, b record.Value) bool {
	au, as, _ := a.Decimal()
	bu, bs, _ := b.Decimal()
	for ; as < bs; as++ {
		au *= 10
	}
	for ; bs < as; bs++ {
		bu *= 10
	}
	return au < bu
}
