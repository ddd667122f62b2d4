package flow_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// A retried composite starts over from its first child: the progress its
// failed attempt saved must not make the next attempt skip children.
func TestRetryRestartsComposite(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{
		"flaky.sh": "#!/bin/sh\nn=$(cat count 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > count\n[ $n -ge 2 ]\n",
		"main.flow.hcl": `
flow "r" {
  sequential "s" {
    retry {
      max_attempts = 3
      min_interval = "1ms"
    }
    exec "first" { command = ["sh", "-c", "echo x >> log"] }
    exec "flaky" { command = ["sh", "flaky.sh"] }
  }
}`,
	})
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	res, rec := flowtest.RunFlow(t, t.Context(), f, nil)
	if res.Status != flow.Completed {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "x"); got != 2 {
		t.Errorf("first child ran %d times, want 2 (once per attempt)", got)
	}
	if n := len(rec.Of(flow.StepRetrying)); n != 1 {
		t.Errorf("%d retrying events, want 1", n)
	}
}
