package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
)

// maxCapture bounds how much of each output stream exec keeps.
const maxCapture = 4 << 20

// Exec runs a command.
var Exec = &flow.StepType{
	Name:    "exec",
	Summary: "Runs a command given as an argument list (never through a shell) and captures its output.",
	Attrs: []flow.Attr{
		{Name: "command", Type: cty.List(cty.String), Required: true,
			Doc: "The program and its arguments, as a list: [\"./report.sh\", \"daily\"]. A relative program path is resolved against dir."},
		{Name: "dir", Type: cty.String, Doc: "The working directory, relative to the flow file's directory (the default)."},
		{Name: "env", Type: cty.Map(cty.String), Doc: "Environment variables added to (or replacing) the inherited ones."},
		{Name: "inherit_env", Type: cty.Bool, Default: cty.True, Doc: "Whether the command inherits the flow process's environment."},
		{Name: "stdin", Type: cty.String, Doc: "Text written to the command's standard input."},
		{Name: "allow_exit_codes", Type: cty.List(cty.Number), Doc: "Exit codes besides 0 that do not fail the step."},
	},
	Outputs: []flow.OutputDoc{
		{Name: "stdout", Type: "string", Doc: "Standard output (at most 4 MiB kept)."},
		{Name: "stderr", Type: "string", Doc: "Standard error (at most 4 MiB kept)."},
		{Name: "exit_code", Type: "number", Doc: "The exit code."},
	},
	Check: func(n *flow.Node) hcl.Diagnostics {
		a := n.Attr("command")
		if a == nil || len(a.Expr.Variables()) > 0 {
			return nil
		}
		if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.CanIterateElements() && v.LengthInt() == 0 {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Empty command",
				Detail: "command needs at least the program to run.", Subject: a.Expr.Range().Ptr()}}
		}
		return nil
	},
	New: func(n *flow.Node) (flow.Step, hcl.Diagnostics) { return flow.StepFunc(runExec), nil },
}

// capBuffer keeps the first max bytes written and counts the rest.
type capBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room >= len(p) {
		return c.buf.Write(p)
	}
	if room > 0 {
		c.buf.Write(p[:room])
	}
	c.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

func (c *capBuffer) String() string {
	if c.dropped > 0 {
		return c.buf.String() + fmt.Sprintf("\n[... %d more bytes not kept]", c.dropped)
	}
	return c.buf.String()
}

func runExec(ctx context.Context, x *flow.Exec) (cty.Value, error) {
	cmdV, err := x.Attr("command")
	if err != nil {
		return cty.NilVal, err
	}
	var argv []string
	for _, v := range cmdV.AsValueSlice() {
		if v.IsNull() {
			return cty.NilVal, flow.Errorf(flow.KindEval, "%s: command has a null element", flow.Pos(x.Node.Attr("command").Expr.Range()))
		}
		argv = append(argv, v.AsString())
	}
	if len(argv) == 0 || argv[0] == "" {
		return cty.NilVal, flow.Errorf(flow.KindEval, "%s: command is empty", flow.Pos(x.Node.Attr("command").Expr.Range()))
	}
	dir, err := x.String("dir")
	if err != nil {
		return cty.NilVal, err
	}
	base := x.Flow().Dir
	if dir == "" {
		dir = base
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(base, dir)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return cty.NilVal, flow.Errorf(flow.KindFailed, "working directory %s does not exist or is not a directory", dir)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	inherit, err := x.Bool("inherit_env")
	if err != nil {
		return cty.NilVal, err
	}
	envV, err := x.Attr("env")
	if err != nil {
		return cty.NilVal, err
	}
	cmd.Env = buildEnv(inherit, envV, x)
	stdin, err := x.Attr("stdin")
	if err != nil {
		return cty.NilVal, err
	}
	if !stdin.IsNull() {
		cmd.Stdin = strings.NewReader(stdin.AsString())
	}
	allowed := []int{0}
	if v, err := x.Attr("allow_exit_codes"); err != nil {
		return cty.NilVal, err
	} else if !v.IsNull() {
		for _, c := range v.AsValueSlice() {
			i, err := flow.ToInt(c, x.Node.Attr("allow_exit_codes"))
			if err != nil {
				return cty.NilVal, err
			}
			allowed = append(allowed, i)
		}
	}
	stdout := &capBuffer{max: maxCapture}
	stderr := &capBuffer{max: maxCapture}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The command and anything it starts form one process group, so that a
	// timeout or cancellation ends all of them: first SIGTERM, then SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leftovers of the group
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil:
			return cty.NilVal, ctx.Err()
		case errors.As(err, &ee):
			code = ee.ExitCode()
			if code < 0 {
				return cty.NilVal, &flow.Error{Kind: flow.KindExit, Msg: fmt.Sprintf("%s: %s", argv[0], ee.String())}
			}
		default:
			return cty.NilVal, &flow.Error{Kind: flow.KindFailed, Msg: fmt.Sprintf("%s: cannot run %q (in %s)",
				flow.Pos(x.Node.Attr("command").Expr.Range()), argv[0], dir), Err: unwrapExecErr(err)}
		}
	}
	out := cty.ObjectVal(map[string]cty.Value{
		// Bytes that are not UTF-8 become U+FFFD now, not when the outputs
		// are saved: a resumed run sees what this one saw.
		"stdout":    cty.StringVal(strings.ToValidUTF8(stdout.String(), "\uFFFD")),
		"stderr":    cty.StringVal(strings.ToValidUTF8(stderr.String(), "\uFFFD")),
		"exit_code": cty.NumberIntVal(int64(code)),
	})
	if !slices.Contains(allowed, code) {
		msg := fmt.Sprintf("%s exited with code %d", argv[0], code)
		if tail := lastLine(stderr.buf.String()); tail != "" {
			msg += ": " + tail
		}
		return cty.NilVal, &flow.Error{Kind: flow.KindExit, Msg: msg}
	}
	return out, nil
}

func unwrapExecErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func buildEnv(inherit bool, extra cty.Value, x *flow.Exec) []string {
	env := map[string]string{}
	if inherit {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	if !extra.IsNull() {
		for k, v := range extra.AsValueMap() {
			if !v.IsNull() {
				env[k] = v.AsString()
			}
		}
	}
	env["FLOW_EXECUTION_ID"] = x.RunID()
	env["FLOW_STEP_PATH"] = x.Path
	env["FLOW_ATTEMPT"] = fmt.Sprint(x.Attempt)
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
