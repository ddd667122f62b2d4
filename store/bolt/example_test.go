package bolt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
)

// A run fails at its second step; the next Begin with the same params
// resumes it, and finds the first step's state.
func Example() {
	dir, err := os.MkdirTemp("", "flow-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := bolt.Open(filepath.Join(dir, ".flow", "flow.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	host, _ := os.Hostname()
	now := time.Now()
	req := store.BeginRequest{
		Flow:   "settlement",
		Key:    "biz_date=2026-11-20", // in practice a hash of the identifying params
		File:   "settlement.flow.hcl",
		Params: map[string]string{"biz_date": "2026-11-20"},
		Owner:  store.Owner{Host: host, PID: os.Getpid(), Token: "run-1", Until: now.Add(time.Minute)},
		Now:    now,
	}
	run, err := s.Begin(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("execution", run.Execution.ID, run.Execution.Status)

	// The first step completes; the second fails, and so does the run:
	// its record and the step's are written in one transaction.
	done := store.StepRecord{Path: "main/load", Type: "exec", Status: flow.Completed, Attempt: 1,
		Outputs: json.RawMessage(`{"rows":{"type":"number","value":1200}}`)}
	if err := s.Commit(ctx, run.Execution.ID, nil, []store.StepRecord{done}); err != nil {
		log.Fatal(err)
	}
	failed := *run.Execution
	failed.Status, failed.FailedStep, failed.Error, failed.Ended = flow.Failed, "main/report", "exit status 1", time.Now()
	report := store.StepRecord{Path: "main/report", Type: "exec", Status: flow.Failed, Attempt: 1, Error: "exit status 1"}
	if err := s.Commit(ctx, run.Execution.ID, &failed, []store.StepRecord{report}); err != nil {
		log.Fatal(err)
	}

	// The same params again: the instance resumes.
	req.Owner.Token, req.Now = "run-2", time.Now()
	again, err := s.Begin(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("execution", again.Execution.ID, "resumes", again.Previous.ID, again.Previous.Status)
	states, err := s.States(ctx, again.Instance.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range states {
		fmt.Printf("  %s %s %s\n", st.Path, st.Status, st.Error+string(st.Outputs))
	}

	// A second process would be refused while this one holds the file.
	_, err = bolt.Open(s.Path(), &bolt.Options{Timeout: 50 * time.Millisecond})
	fmt.Println("second open in use:", errors.Is(err, bolt.ErrInUse))

	// Output:
	// execution 1 STARTED
	// execution 2 resumes 1 FAILED
	//   main/load COMPLETED {"rows":{"type":"number","value":1200}}
	//   main/report FAILED exit status 1
	// second open in use: true
}
