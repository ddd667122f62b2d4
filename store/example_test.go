package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/decorators"
	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
)

const nightly = `
flow "nightly" {
  param "day" {
    type = string
  }

  log "load" {
    message = "loading ${param.day}"
  }
  publish "report" {
    day = param.day
  }
  log "done" {
    message = "published ${param.day}"
  }
}
`

// targetDown makes the publish step fail, as an unreachable server would.
var targetDown = true

// publish is a step type with an effect outside the run (Pure is false):
// the store commits its start and end before the run moves on.
var publish = &flow.StepType{
	Name:  "publish",
	Attrs: []flow.Attr{{Name: "day", Type: cty.String, Required: true}},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) {
		return flow.StepFunc(func(ctx context.Context, x *flow.Exec) (cty.Value, error) {
			if targetDown {
				return cty.NilVal, errors.New("the publish target is down")
			}
			return cty.NilVal, nil
		}), nil
	},
}

// Run a flow durably: store.Begin records the execution in a store and
// decides whether it is new or resumes a failed one; Session.Start and
// Session.Wait run it. Here the first execution fails at its second step;
// the second resumes it and does not run the completed step again; a third
// with the same params is refused, as the instance completed.
//
// The store is a bbolt file, what the flow command uses by default.
// postgres.Open(ctx, url) (package store/postgres) shares the executions
// between processes and machines; memory.New() (store/memory) keeps them
// in memory, for tests. All three are a store.Store.
func Example() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := bolt.Open(filepath.Join(dir, "flow.db"), nil)
	if err != nil {
		log.Fatal(err) // errors.Is(err, bolt.ErrInUse): another process has it open
	}
	defer st.Close()

	reg := flow.NewRegistry()
	steps.Register(reg)
	decorators.Register(reg)
	reg.RegisterStep(publish)
	set, diags := flow.LoadFS(fstest.MapFS{"nightly.flow.hcl": {Data: []byte(nightly)}}, "nightly.flow.hcl", reg)
	if diags.HasErrors() {
		log.Fatal(diags.Error())
	}
	f, _ := set.Only()
	eng := flow.NewEngine(flow.ObserverFunc(func(e flow.Event) {
		switch e.Kind {
		case flow.StepCompleted, flow.StepFailed, flow.StepRestored, flow.StepSkipped:
			if e.Path != "main" {
				fmt.Println("  ", e.Kind, e.Path)
			}
		}
	}))

	ctx := context.Background()
	params := map[string]cty.Value{"day": cty.StringVal("2026-11-20")}
	targetDown = true
	run := func() {
		sess, err := store.Begin(ctx, st, f, params, store.Options{})
		if errors.Is(err, store.ErrCompleted) {
			fmt.Println("refused: the instance completed (store.Options{Rerun: true} runs it again)")
			return
		}
		if err != nil {
			log.Fatal(err)
		}
		if sess.Previous != nil {
			fmt.Printf("execution %d resumes execution %d (%s); %d step restored\n",
				sess.Execution.ID, sess.Previous.ID, sess.Previous.Status, sess.Restored())
		} else {
			fmt.Printf("execution %d starts\n", sess.Execution.ID)
		}
		r, err := sess.Start(ctx, eng, f, params)
		if err != nil {
			log.Fatal(err)
		}
		res, err := sess.Wait(ctx, r, f) // records how the run ended
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("  ", res.Status)
	}
	run()
	targetDown = false
	run()
	run()

	// Output:
	// execution 1 starts
	//    step_completed main/load
	//    step_failed main/report
	//    FAILED
	// execution 2 resumes execution 1 (FAILED); 1 step restored
	//    step_restored main/load
	//    step_completed main/report
	//    step_completed main/done
	//    COMPLETED
	// refused: the instance completed (store.Options{Rerun: true} runs it again)
}
