package steps_test

import (
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// A command that prints bytes that are not UTF-8 (Latin-1): its stdout is
// made valid UTF-8 (U+FFFD) by the step, as the store would when it saves
// the outputs; before, a resumed run, which restores the saved outputs,
// saw another string than the first run (found by FuzzValueJournal in
// flow/fuzz_test.go).
func TestExecOutputNotUTF8(t *testing.T) {
	res, _ := flowtest.Run(t, `flow "latin1" {
  exec "print" { command = ["printf", "caf\\351\\n"] }
  output "out" { value = step.print.stdout }
}`, nil)
	if res.Status != flow.Completed {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	if got := res.Outputs["out"].AsString(); got != "caf\uFFFD\n" {
		t.Errorf("stdout %q, want %q", got, "caf\uFFFD\n")
	}
	b, err := flow.MarshalValue(res.Outputs["out"])
	if err != nil {
		t.Fatal(err)
	}
	if back, err := flow.UnmarshalValue(b); err != nil || !back.RawEquals(res.Outputs["out"]) {
		t.Errorf("saved and restored: %#v, %v", back, err)
	}
}
