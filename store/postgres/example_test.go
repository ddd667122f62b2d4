package postgres_test

import (
	"context"
	"fmt"
	"log"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/postgres"
)

// Open a PostgreSQL store (it migrates its tables on first use) and run a
// flow durably in it: every process that opens the same database sees and
// can resume the same executions. The flow command does the same with
// --store postgres://... or FLOW_STORE. (Not run as a test: it needs a
// server.)
func Example() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, "postgres://flow@db.internal:5432/flow?sslmode=disable&search_path=flow")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	set, diags := flow.Load("nightly.flow.hcl", nil)
	if diags.HasErrors() {
		log.Fatal(diags.Error())
	}
	f, _ := set.Only()
	sess, err := store.Begin(ctx, st, f, nil, store.Options{})
	if err != nil {
		log.Fatal(err) // store.ErrCompleted, store.ErrOwned: see store.Begin
	}
	r, err := sess.Start(ctx, flow.NewEngine(nil), f, nil)
	if err != nil {
		log.Fatal(err)
	}
	res, err := sess.Wait(ctx, r, f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("execution", sess.ExecutionID(), res.Status)
}
