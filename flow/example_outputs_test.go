package flow_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/flowbatch/flow/flow"
)

// Params of any type go in as cty values, outputs come out as cty values:
// FormatValue prints one as HCL, gocty converts one into a Go value.
func ExampleResult() {
	src := `
flow "totals" {
  param "amounts" {
    type = list(number)
  }
  param "currency" {
    type    = string
    default = "EUR"
  }
  output "count" {
    value = length(param.amounts)
  }
  output "labels" {
    value = [for a in param.amounts : format("%.2f %s", a, param.currency)]
  }
  output "summary" {
    value = { currency = param.currency, largest = max(param.amounts...) }
  }
}`
	set, diags := flow.LoadFS(fstest.MapFS{"totals.flow.hcl": {Data: []byte(src)}}, "totals.flow.hcl", nil)
	if diags.HasErrors() {
		fmt.Println(diags.Error())
		return
	}
	f, _ := set.Only()
	amounts, err := flow.ParseParam(f.Param("amounts"), "[12.5, 30, 7.25]") // as flow exec -p takes it
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{
		Params: map[string]cty.Value{"amounts": amounts}, // currency takes its default
	})
	if err != nil {
		fmt.Println(err) // a missing, unknown or ill-typed param: nothing ran
		return
	}
	if res.Status != flow.Completed {
		fmt.Println(res.Status, res.Err)
		return
	}

	var count int
	var labels []string
	var summary struct {
		Currency string  `cty:"currency"`
		Largest  float64 `cty:"largest"`
	}
	for name, dst := range map[string]any{"count": &count, "summary": &summary} {
		if err := gocty.FromCtyValue(res.Outputs[name], dst); err != nil {
			fmt.Println(name, err)
		}
	}
	// A [for ...] expression makes a tuple: convert it to a list first.
	list, err := convert.Convert(res.Outputs["labels"], cty.List(cty.String))
	if err == nil {
		err = gocty.FromCtyValue(list, &labels)
	}
	if err != nil {
		fmt.Println("labels", err)
	}
	fmt.Println(count, labels, summary.Currency, summary.Largest)
	fmt.Println(flow.FormatValue(res.Outputs["summary"]))
	// Output:
	// 3 [12.50 EUR 30.00 EUR 7.25 EUR] EUR 30
	// {
	//   currency = "EUR"
	//   largest  = 30
	// }
}
