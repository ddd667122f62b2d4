package memory_test

import (
	"context"
	"fmt"
	"log"
	"testing/fstest"

	"github.com/flowbatch/flow/flow"
	_ "github.com/flowbatch/flow/steps"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/memory"
)

// A memory store is a store.Store for tests: executions are recorded,
// resumed and listed as with bbolt or PostgreSQL, and lost when the
// process ends.
func Example() {
	st := memory.New()
	defer st.Close()

	src := `flow "hello" {
  log "hi" { message = "hi" }
}`
	set, diags := flow.LoadFS(fstest.MapFS{"hello.flow.hcl": {Data: []byte(src)}}, "hello.flow.hcl", nil)
	if diags.HasErrors() {
		log.Fatal(diags.Error())
	}
	f, _ := set.Only()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		sess, err := store.Begin(ctx, st, f, nil, store.Options{Rerun: true}) // Rerun: a new instance each time
		if err != nil {
			log.Fatal(err)
		}
		r, err := sess.Start(ctx, flow.NewEngine(nil), f, nil)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := sess.Wait(ctx, r, f); err != nil {
			log.Fatal(err)
		}
	}
	execs, err := st.History(ctx, store.Filter{})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range execs {
		fmt.Println(e.ID, e.Flow, e.Status)
	}
	// Output:
	// 2 hello COMPLETED
	// 1 hello COMPLETED
}
