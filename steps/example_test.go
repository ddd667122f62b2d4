package steps_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps"
)

// The standard steps in a registry of your own (importing the package
// puts them in flow.DefaultRegistry, which flow.Load uses with nil):
// a fork over a list, a loop with a loop-carried variable, a choose.
func ExampleRegister() {
	reg := flow.NewRegistry()
	steps.Register(reg)
	decorators.Register(reg)

	src := `
flow "tour" {
  vars = { total = 0, size = "" }

  fork "square" {
    for_each = [1, 2, 3]
    log "sq" {
      level   = "debug"
      message = each.value * each.value
    }
  }

  loop "add" {
    until = loop.index + 1 >= length(step.square.results)
    set "acc" {
      assign = { total = var.total + tonumber(step.square.results[loop.index].sq.message) }
    }
  }

  choose "size" {
    when {
      condition = var.total > 10
      set "big" {
        assign = { size = "big" }
      }
    }
    otherwise {
      set "small" {
        assign = { size = "small" }
      }
    }
  }

  output "total" {
    value = var.total
  }
  output "size" {
    value = var.size
  }
}`
	set, diags := flow.LoadFS(fstest.MapFS{"tour.flow.hcl": {Data: []byte(src)}}, "tour.flow.hcl", reg)
	if diags.HasErrors() {
		fmt.Println(diags.Error())
		return
	}
	f, _ := set.Only()
	res, _ := flow.NewEngine(nil).Run(context.Background(), f, flow.RunOptions{})
	fmt.Println(res.Status, flow.FormatValue(res.Outputs["total"]), flow.FormatValue(res.Outputs["size"]))
	// Output: COMPLETED 14 "big"
}
