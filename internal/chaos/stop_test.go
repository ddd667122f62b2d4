package chaos_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

// Found by TestChaos: a stop must let running steps finish, also in a
// parallel branch whose sibling ends on the stop (fail_fast must not take
// the stop for a failure and cancel the running exec, which would then run
// again on resume).
func TestStopLetsParallelSiblingsFinish(t *testing.T) {
	for _, body := range []string{
		`parallel "p" {
    sleep "wait" { duration = "10s" }
    exec "work" {
      command = ["sh", "-c", "sleep 0.3; echo done >> \"$OUT\""]
      env     = { OUT = param.out }
    }
  }`,
		`fork "f" {
    for_each = [0, 1]
    choose "c" {
      when {
        condition = each.value == 0
        sleep "wait" { duration = "10s" }
      }
      otherwise {
        exec "work" {
          command = ["sh", "-c", "sleep 0.3; echo done >> \"$OUT\""]
          env     = { OUT = param.out }
        }
      }
    }
  }`,
	} {
		name, _, _ := strings.Cut(body, " ")
		t.Run(name, func(t *testing.T) {
			f := flowtest.Load(t, `flow "stop" {
  param "out" { type = string }
  `+body+`
}`)
			out := filepath.Join(t.TempDir(), "out")
			rec := &flowtest.Recorder{}
			r, err := flow.NewEngine(rec).Start(context.Background(), f, flow.RunOptions{Params: map[string]cty.Value{"out": cty.StringVal(out)}})
			if err != nil {
				t.Fatal(err)
			}
			// Stop once the exec runs.
			deadline := time.Now().Add(time.Minute)
			for len(rec.Paths(flow.StepStarted)) < 4 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			r.Stop()
			res := r.Wait()
			if res.Status != flow.Stopped {
				t.Errorf("status %s (%v), want STOPPED", res.Status, res.Err)
			}
			for _, e := range rec.Of(flow.StepFailed) {
				if strings.HasSuffix(e.Path, "/work") {
					t.Errorf("the running exec was cut short by the stop: %v", e.Err)
				}
			}
			if b, _ := os.ReadFile(out); string(b) != "done\n" {
				t.Errorf("effect %q, want the running exec to finish", b)
			}
		})
	}
}
