package steps_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
)

func TestExecOutputs(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  exec "e" {
    command = ["sh", "-c", "printf 'out %s' \"$1\"; printf 'err' >&2", "sh", "arg with spaces; $HOME"]
  }
  output "stdout" { value = step.e.stdout }
  output "stderr" { value = step.e.stderr }
  output "code"   { value = step.e.exit_code }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "stdout", `"out arg with spaces; $HOME"`)
	wantOutput(t, res, "stderr", `"err"`)
	wantOutput(t, res, "code", "0")
}

func TestExecExitCodes(t *testing.T) {
	const cmd = `command = ["sh", "-c", "echo partial; echo 'disk full' >&2; exit 3"]`
	t.Run("not allowed", func(t *testing.T) {
		res, rec := run(t, `
flow "t" {
  exec "e" {
    `+cmd+`
  }
  log "after" { message = "after" }
}`)
		mustFail(t, res, flow.KindExit, "main/e", "exited with code 3", "disk full")
		if started(rec, "main/after") {
			t.Error("a step after the failed command started")
		}
	})
	t.Run("allowed", func(t *testing.T) {
		res, _ := run(t, `
flow "t" {
  exec "e" {
    `+cmd+`
    allow_exit_codes = [1, 3]
  }
  output "code"   { value = step.e.exit_code }
  output "stdout" { value = step.e.stdout }
  output "stderr" { value = step.e.stderr }
}`)
		mustComplete(t, res)
		wantOutput(t, res, "code", "3")
		wantOutput(t, res, "stdout", `"partial\n"`)
		wantOutput(t, res, "stderr", `"disk full\n"`)
	})
	t.Run("other code not allowed", func(t *testing.T) {
		res, _ := run(t, `
flow "t" {
  exec "e" {
    command          = ["sh", "-c", "exit 4"]
    allow_exit_codes = [3]
  }
}`)
		mustFail(t, res, flow.KindExit, "main/e", "exited with code 4")
	})
	t.Run("caught", func(t *testing.T) {
		res, rec := run(t, `
flow "t" {
  exec "e" {
    `+cmd+`
    catch {
      log "c" { message = "${error.kind}: ${error.message}" }
    }
  }
}`)
		mustComplete(t, res)
		if got := rec.Messages(); len(got) != 1 || !strings.HasPrefix(got[0], "exit: sh exited with code 3") {
			t.Errorf("messages %q", got)
		}
	})
}

func TestExecEnv(t *testing.T) {
	t.Setenv("FLOWTEST_INHERITED", "from-parent")
	t.Run("inherit", func(t *testing.T) {
		res, _ := run(t, `
flow "t" {
  exec "e" {
    command = ["sh", "-c", "echo \"$FLOWTEST_INHERITED|$EXTRA\""]
    env     = { EXTRA = "added" }
  }
  output "out" { value = trimspace(step.e.stdout) }
}`)
		mustComplete(t, res)
		wantOutput(t, res, "out", `"from-parent|added"`)
	})
	t.Run("override", func(t *testing.T) {
		res, _ := run(t, `
flow "t" {
  exec "e" {
    command = ["sh", "-c", "echo \"$FLOWTEST_INHERITED\""]
    env     = { FLOWTEST_INHERITED = "replaced" }
  }
  output "out" { value = trimspace(step.e.stdout) }
}`)
		mustComplete(t, res)
		wantOutput(t, res, "out", `"replaced"`)
	})
	t.Run("no inherit", func(t *testing.T) {
		res, _ := run(t, `
flow "t" {
  exec "e" {
    command     = ["env"]
    env         = { ONLY = "me" }
    inherit_env = false
  }
  output "out" { value = step.e.stdout }
}`)
		mustComplete(t, res)
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(res.Outputs["out"].AsString()), "\n") {
			k, _, _ := strings.Cut(line, "=")
			names = append(names, k)
		}
		slices.Sort(names)
		if want := []string{"FLOW_ATTEMPT", "FLOW_EXECUTION_ID", "FLOW_STEP_PATH", "ONLY"}; !slices.Equal(names, want) {
			t.Errorf("environment %q, want only %q", names, want)
		}
	})
}

func TestExecFlowVariables(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  sequential "grp" {
    exec "e" {
      command = ["sh", "-c", "echo \"$FLOW_EXECUTION_ID|$FLOW_STEP_PATH|$FLOW_ATTEMPT\""]
    }
    output "out" { value = step.e.stdout }
  }
  fork "f" {
    for_each = ["a", "b"]
    exec "e" {
      command = ["sh", "-c", "echo \"$FLOW_STEP_PATH\""]
    }
  }
  output "out"   { value = trimspace(step.grp.out) }
  output "paths" { value = [for r in step.f.results : trimspace(r.e.stdout)] }
}`)
	mustComplete(t, res)
	if res.ExecutionID == "" {
		t.Fatal("no execution id")
	}
	wantOutput(t, res, "out", `"`+res.ExecutionID+`|main/grp/e|1"`)
	wantOutput(t, res, "paths", `["main/f[0]/e", "main/f[1]/e"]`)
}

func TestExecStdin(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  exec "e" {
    command = ["cat"]
    stdin   = "line one\nline two\n"
  }
  exec "none" {
    command = ["cat"]
  }
  output "out"  { value = step.e.stdout }
  output "none" { value = step.none.stdout }
}`)
	mustComplete(t, res)
	wantOutput(t, res, "out", `"line one\nline two\n"`)
	wantOutput(t, res, "none", `""`)
}

func TestExecDir(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{
		"main.flow.hcl": `
flow "t" {
  exec "here" {
    command = ["cat", "top.txt"]
  }
  exec "sub" {
    command = ["cat", "inner.txt"]
    dir     = "sub"
  }
  exec "pwd" {
    command = ["pwd"]
    dir     = "sub"
  }
  exec "script" {
    command = ["./hello.sh", "you"]
  }
  output "here"   { value = step.here.stdout }
  output "sub"    { value = step.sub.stdout }
  output "pwd"    { value = trimspace(step.pwd.stdout) }
  output "script" { value = step.script.stdout }
}`,
		"top.txt":       "top",
		"sub/inner.txt": "inner",
	})
	executable(t, dir, "hello.sh", "#!/bin/sh\necho \"hello $1\"\n")
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	res, _ := flowtest.RunFlow(t, t.Context(), f, nil)
	mustComplete(t, res)
	wantOutput(t, res, "here", `"top"`)
	wantOutput(t, res, "sub", `"inner"`)
	wantOutput(t, res, "script", `"hello you\n"`)
	got := res.Outputs["pwd"].AsString()
	if real, err := filepath.EvalSymlinks(filepath.Join(dir, "sub")); err != nil || (got != real && got != filepath.Join(dir, "sub")) {
		t.Errorf("pwd %q, want %s", got, filepath.Join(dir, "sub"))
	}
}

func TestExecMissingProgram(t *testing.T) {
	for _, tc := range []struct{ prog, want string }{
		{"no-such-program-flowtest", "executable file not found"},
		{"./no-such-script.sh", "no such file or directory"},
	} {
		t.Run(tc.prog, func(t *testing.T) {
			res, _ := run(t, `
flow "t" {
  exec "e" { command = ["`+tc.prog+`", "x"] }
}`)
			mustFail(t, res, flow.KindFailed, "main/e", `cannot run "`+tc.prog+`"`, tc.want)
		})
	}
}

func TestExecMissingDir(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  exec "e" {
    command = ["true"]
    dir     = "no/such/dir"
  }
}`)
	mustFail(t, res, flow.KindFailed, "main/e", "no/such/dir")
}

func TestExecEmptyCommand(t *testing.T) {
	diags := flowtest.Diags(t, `
flow "t" {
  exec "e" { command = [] }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Empty command") {
		t.Errorf("diagnostics %v", diags)
	}
}

// TestExecTimeoutKillsChildren checks that a timeout ends the command and
// the processes it started.
func TestExecTimeoutKillsChildren(t *testing.T) {
	dir := flowtest.Write(t, map[string]string{"main.flow.hcl": `
flow "t" {
  exec "e" {
    command = ["./spawn.sh"]
    timeout = "300ms"
  }
}`})
	executable(t, dir, "spawn.sh", "#!/bin/sh\nsleep 60 &\necho $! > child.pid\nwait\n")
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	obs := newChanObserver()
	r, err := flow.NewEngine(obs).Start(t.Context(), f, flow.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := waitDone(t, r)
	mustFail(t, res, flow.KindTimeout, "main/e", "timed out after 300ms")
	b, err := os.ReadFile(filepath.Join(dir, "child.pid"))
	if err != nil {
		t.Fatalf("the script did not start its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(guard)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child process %d outlived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestExecOutputIsCapped(t *testing.T) {
	res, _ := run(t, `
flow "t" {
  exec "e" {
    command = ["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x"]
  }
  output "out" { value = step.e.stdout }
}`)
	mustComplete(t, res)
	out := res.Outputs["out"].AsString()
	const kept = 4 << 20
	if !strings.HasPrefix(out, strings.Repeat("x", kept)+"\n[... ") || !strings.HasSuffix(out, " more bytes not kept]") {
		t.Errorf("output of %d bytes not capped at %d with a note (ends %q)", len(out), kept, out[max(0, len(out)-60):])
	}
	if !strings.Contains(out, strconv.Itoa(5000000-kept)) {
		t.Errorf("the note does not say how much was dropped: %q", out[kept:])
	}
}
