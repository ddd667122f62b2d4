package decorators_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps"
)

// The standard decorators work on any step: here retry runs a failing
// step again, catch handles its last failure (error.* says what it was),
// and finally runs whatever happened.
func ExampleRegister() {
	reg := flow.NewRegistry()
	steps.Register(reg)
	decorators.Register(reg)

	src := `
flow "careful" {
  vars = { note = "", cleaned = false }

  fail "flaky" {
    message = "service unavailable"
    retry {
      max_attempts = 3
      min_interval = "1ms"
    }
    catch {
      set "remember" {
        assign = { note = "${error.step} failed: ${error.message}" }
      }
    }
    finally {
      set "tidy" {
        assign = { cleaned = true }
      }
    }
  }

  output "note" {
    value = var.note
  }
  output "cleaned" {
    value = var.cleaned
  }
}`
	set, diags := flow.LoadFS(fstest.MapFS{"careful.flow.hcl": {Data: []byte(src)}}, "careful.flow.hcl", reg)
	if diags.HasErrors() {
		fmt.Println(diags.Error())
		return
	}
	f, _ := set.Only()
	obs := flow.ObserverFunc(func(e flow.Event) {
		switch e.Kind {
		case flow.StepRetrying:
			fmt.Printf("attempt %d failed (%s), retrying\n", e.Attempt, flow.MessageOf(e.Err))
		case flow.StepRecovered:
			fmt.Printf("%s recovered by catch\n", e.Path)
		}
	})
	res, _ := flow.NewEngine(obs).Run(context.Background(), f, flow.RunOptions{})
	fmt.Println(res.Status)
	fmt.Println(flow.FormatValue(res.Outputs["note"]), flow.FormatValue(res.Outputs["cleaned"]))
	// Output:
	// attempt 1 failed (service unavailable), retrying
	// attempt 2 failed (service unavailable), retrying
	// main/flaky recovered by catch
	// COMPLETED
	// "main/flaky failed: service unavailable" true
}
