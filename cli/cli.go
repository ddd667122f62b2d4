// Package cli is the flow command line as a library: cmd/flow is a
// two-line main around Main, and so can be any Go program that adds its
// own step types or batch components to the standard ones. Importing cli
// registers the standard steps and decorators.
package cli

import (
	_ "github.com/flowbatch/flow/decorators" // the standard decorators
	_ "github.com/flowbatch/flow/script"     // the script step, js processors, filters
	_ "github.com/flowbatch/flow/steps"      // the standard step types

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"golang.org/x/term"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitStopped = 3
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	logFormat      string
	logLevel       string
	storeFlag      string
	leaseFlag      string
	quiet          bool
	// display draws batch progress on a terminal (nil: progress is
	// logged); terminal, when set, replaces the check that stderr is one.
	display  *progressDisplay
	terminal func() (width func() int, ok bool)
	// signals delivers SIGINT/SIGTERM; tests replace it.
	signals func() (<-chan os.Signal, func())
}

// Main runs the flow command line with args (without the program name) and
// returns the exit code. A Go program that registers its own step types,
// decorators or batch components (into flow.DefaultRegistry and the batch
// registry) calls it from its main to get the whole CLI with them:
//
//	func main() {
//		batch.RegisterFunc("enrich", "Adds the customer's segment.", enrich)
//		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
//	}
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, signals: osSignals}
	root := c.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "flow:", ee.msg)
		}
		return ee.code
	}
	// cobra's own errors: unknown command or flag, wrong argument count.
	fmt.Fprintln(stderr, "flow:", err)
	return exitUsage
}

// argsBetween accepts from min to max arguments (max < 0: no limit), and
// otherwise names the command's usage instead of cobra's "accepts 1
// arg(s), received 0".
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		usage := strings.TrimSuffix(cmd.UseLine(), " [flags]")
		switch {
		case len(args) < min:
			var spec []string // the arguments of Use, without its flags
			for _, w := range strings.Fields(cmd.Use)[1:] {
				if !strings.HasPrefix(w, "[-") {
					spec = append(spec, w)
				}
			}
			return &exitError{exitUsage, fmt.Sprintf("%s needs %s (see %s --help)", cmd.CommandPath(), strings.Join(spec, " "), cmd.CommandPath())}
		case max >= 0 && len(args) > max:
			return &exitError{exitUsage, fmt.Sprintf("%s: unexpected argument %q (usage: %s)", cmd.CommandPath(), args[max], usage)}
		}
		return nil
	}
}

func osSignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "flow",
		Short: "Run and check Flowbatch flows",
		Long: `flow runs task flows written in HCL (*.flow.hcl): steps in sequence, in parallel,
in loops and forks, with retry, timeout, catch and finally on any step.

Every execution is durable: it is recorded in a store (--store; by default
.flow/flow.db in the working directory, or $FLOW_STORE), so that a failed,
stopped or killed execution can be resumed where it stopped, without
running its completed steps again. history, show, resume, stop, abandon
and prune work on that record.

Exit codes: 0 completed, 1 failed, 2 usage or validation error (or the
store refused to start the execution), 3 stopped.`,
		Example: `  flow exec examples/hello/hello.flow.hcl -p name=world
  flow history
  flow resume 3
  flow --store 'postgres://flow@db.internal/flow?sslmode=disable' history`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&c.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.PersistentFlags().StringVar(&c.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	root.PersistentFlags().BoolVarP(&c.quiet, "quiet", "q", false, "no progress and no info lines: only warnings, errors and the result")
	root.PersistentFlags().StringVar(&c.storeFlag, "store", "", "where executions are kept: a bbolt file, or a postgres:// URL (default $FLOW_STORE, else "+defaultStore+")")
	root.PersistentFlags().StringVar(&c.leaseFlag, "lease", "", "how long an execution stays owned without a heartbeat (default $FLOW_LEASE, else 30s)")
	_ = root.PersistentFlags().MarkHidden("lease")
	root.AddCommand(c.execCmd(), c.resumeCmd(), c.stopCmd(), c.abandonCmd(), c.historyCmd(), c.showCmd(), c.pruneCmd(),
		c.validateCmd(), c.fmtCmd(), c.graphCmd(), c.versionCmd())
	return root
}

func (c *cli) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, &exitError{exitUsage, fmt.Sprintf("--log-level %q: use debug, info, warn or error", c.logLevel)}
	}
	if c.quiet {
		level = max(level, slog.LevelWarn)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(c.logWriter(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.stderr, opts)), nil
	}
	return nil, &exitError{exitUsage, fmt.Sprintf("--log-format %q: use text or json", c.logFormat)}
}

// load loads and checks a flow file (or directory); diagnostics go to stderr
// with source snippets.
func (c *cli) load(path string) (*flow.Set, error) {
	set, diags := flow.Load(path, nil)
	if len(diags) > 0 {
		c.printDiags(set, diags)
	}
	if diags.HasErrors() {
		return nil, &exitError{exitUsage, ""}
	}
	return set, nil
}

func (c *cli) printDiags(set *flow.Set, diags hcl.Diagnostics) {
	var files map[string]*hcl.File
	if set != nil {
		files = set.Files()
	}
	c.writeDiags(files, diags)
}

// writeDiags prints diagnostics with snippets from files, in colour on a
// terminal unless NO_COLOR is set.
func (c *cli) writeDiags(files map[string]*hcl.File, diags hcl.Diagnostics) {
	color := false
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		color = os.Getenv("NO_COLOR") == ""
	}
	_ = flow.WriteDiagnostics(c.stderr, files, diags, color)
}

func pickFlow(set *flow.Set, name string) (*flow.Flow, error) {
	var f *flow.Flow
	var err error
	if name != "" {
		f, err = set.Flow(name)
	} else {
		f, err = set.Only()
	}
	if err != nil {
		return nil, &exitError{exitUsage, err.Error() + " (use --flow NAME)"}
	}
	return f, nil
}

func (c *cli) execCmd() *cobra.Command {
	var params []string
	var paramsFile, output, flowName string
	var rerun, noStore bool
	cmd := &cobra.Command{
		Use:   "exec FILE|DIR",
		Short: "Run a flow",
		Long: `Run a flow and wait for it to end.

Params come from --params-file (a JSON object) and then -p name=value, which
wins. A string param takes the text as it is; other types parse it as an HCL
expression: -p count=3 -p tags='["a","b"]'.

The execution is recorded in the store (--store). The flow and its
identifying params (every param unless declared identifying = false) make
a job instance:
  - when the instance's last execution ended FAILED or STOPPED (or its
    process died), exec resumes it: the steps that completed are not run
    again, and says so on stderr;
  - when it COMPLETED, exec refuses (exit code 2): --rerun runs the flow
    again as a new instance;
  - when a live process still runs it, exec refuses (exit code 2).
--no-store runs without recording anything: no resume, no history.

SIGINT or SIGTERM (or flow stop) stops the run at the next step boundary
(exit code 3); a second signal aborts the running steps. A stopped run
can be resumed with flow resume or by running exec again.`,
		Example: `  flow exec examples/hello/hello.flow.hcl -p name=world
  flow exec settle.flow.hcl --params-file params.json --output json
  flow exec settle.flow.hcl -p day=2026-11-20 --rerun
  flow exec scratch.flow.hcl --no-store`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return &exitError{exitUsage, fmt.Sprintf("--output %q: use text or json", output)}
			}
			logger, err := c.logger()
			if err != nil {
				return err
			}
			set, err := c.load(args[0])
			if err != nil {
				return err
			}
			f, err := pickFlow(set, flowName)
			if err != nil {
				return err
			}
			values, err := c.params(f, params, paramsFile)
			if err != nil {
				return err
			}
			if noStore {
				if rerun {
					return &exitError{exitUsage, "--rerun and --no-store do not go together"}
				}
				return c.exec(f, values, output, logger)
			}
			lease, err := c.lease()
			if err != nil {
				return err
			}
			return c.runDurable(output, logger, false, func(ctx context.Context, st *openedStore) (*store.Session, *flow.Flow, map[string]cty.Value, error) {
				sess, err := store.Begin(ctx, st, f, values, store.Options{Rerun: rerun, Lease: lease})
				if err != nil {
					return nil, nil, nil, startError(err, f.Name, "add --rerun to run it again as a new instance")
				}
				return sess, f, values, nil
			})
		},
	}
	cmd.Flags().BoolVar(&rerun, "rerun", false, "run again even when these params already completed: a new job instance")
	cmd.Flags().BoolVar(&noStore, "no-store", false, "run without recording the execution: no resume, no history")
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "a param value, name=value (repeatable)")
	cmd.Flags().StringVar(&paramsFile, "params-file", "", "a JSON object of param values")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, or json: one object on stdout at the end")
	cmd.Flags().StringVar(&flowName, "flow", "", "which flow to run when the file or directory holds several")
	return cmd
}

func (c *cli) params(f *flow.Flow, kv []string, file string) (map[string]cty.Value, error) {
	values := map[string]cty.Value{}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, &exitError{exitUsage, "--params-file: " + err.Error()}
		}
		values, err = f.ParseParamsJSON(data)
		if err != nil {
			return nil, &exitError{exitUsage, file + ": " + flow.MessageOf(err)}
		}
	}
	for _, s := range kv {
		name, text, ok := strings.Cut(s, "=")
		if !ok {
			return nil, &exitError{exitUsage, fmt.Sprintf("-p %q: use -p name=value", s)}
		}
		p := f.Param(name)
		if p == nil {
			return nil, noParam(f, s, name)
		}
		v, err := flow.ParseParam(p, text)
		if err != nil {
			return nil, &exitError{exitUsage, flow.MessageOf(err)}
		}
		values[name] = v
	}
	if _, err := f.BindParams(values); err != nil {
		return nil, &exitError{exitUsage, flow.MessageOf(err)}
	}
	return values, nil
}

// noParam is the error of -p arg naming a param f does not declare: it
// suggests the closest name and lists the declared ones.
func noParam(f *flow.Flow, arg, name string) error {
	msg := fmt.Sprintf("-p %s: flow %q has no param %q", arg, f.Name, name)
	var names []string
	best, bestD := "", 3
	for _, p := range f.Params {
		names = append(names, p.Name)
		if d := levenshtein.Distance(name, p.Name, nil); d < bestD {
			best, bestD = p.Name, d
		}
	}
	switch {
	case len(names) == 0:
		msg += "; it declares no params"
	case best != "":
		msg += fmt.Sprintf("; did you mean %q?", best)
	default:
		msg += "; it declares " + strings.Join(names, ", ")
	}
	return &exitError{exitUsage, msg}
}

// exec runs f without a store (--no-store).
func (c *cli) exec(f *flow.Flow, params map[string]cty.Value, output string, logger *slog.Logger) error {
	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	// Catch signals before the run starts, so that an early SIGINT stops it
	// instead of killing the process.
	sigs, stopSignals := c.signals()
	defer stopSignals()
	eng := &flow.Engine{Observer: c.observer(logger), Logger: logger}
	r, err := eng.Start(ctx, f, flow.RunOptions{Params: params})
	if err != nil {
		return &exitError{exitUsage, flow.MessageOf(err)}
	}
	c.watch(r, sigs, abort, logger, nil)
	res := r.Wait()
	c.endProgress()
	if err := c.printResult(output, f, res); err != nil {
		return err
	}
	code := res.Status.ExitCode()
	if code != exitOK {
		return &exitError{code, ""}
	}
	return nil
}

// jsonResult is what --output json prints.
type jsonResult struct {
	ExecutionID string                     `json:"execution_id"`
	Flow        string                     `json:"flow"`
	Status      flow.Status                `json:"status"`
	Outputs     map[string]json.RawMessage `json:"outputs"`
	Error       *jsonError                 `json:"error"`
}

type jsonError struct {
	Step    string `json:"step,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func sensitiveOutputs(f *flow.Flow) map[string]bool {
	m := map[string]bool{}
	for _, o := range f.Root.Outputs {
		if o.Sensitive {
			m[o.Name] = true
		}
	}
	return m
}

func writeJSONResult(w io.Writer, f *flow.Flow, res *flow.Result) error {
	out := jsonResult{ExecutionID: res.ExecutionID, Flow: res.Flow, Status: res.Status, Outputs: map[string]json.RawMessage{}}
	hide := sensitiveOutputs(f)
	for k, v := range res.Outputs {
		if hide[k] {
			out.Outputs[k] = json.RawMessage(`"(sensitive)"`)
			continue
		}
		b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
		if err != nil {
			return fmt.Errorf("output %s: %w", k, err)
		}
		out.Outputs[k] = b
	}
	if res.Err != nil {
		out.Error = &jsonError{Step: flow.StepOf(res.Err), Kind: flow.KindOf(res.Err), Message: flow.MessageOf(res.Err)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeTextResult(w io.Writer, f *flow.Flow, res *flow.Result) {
	fmt.Fprintf(w, "%s %s (execution %s)\n", res.Flow, res.Status, res.ExecutionID)
	if res.Err != nil {
		fmt.Fprintf(w, "error: %s\n", res.Err)
	}
	hide := sensitiveOutputs(f)
	names := make([]string, 0, len(res.Outputs))
	for k := range res.Outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if hide[k] {
			fmt.Fprintf(w, "  %s = (sensitive)\n", k)
			continue
		}
		// Multi-line values (maps, objects) keep the indentation.
		fmt.Fprintf(w, "  %s = %s\n", k, strings.ReplaceAll(flow.FormatValue(res.Outputs[k]), "\n", "\n  "))
	}
}

// rateMeter turns successive progress events into rates and ETAs.
type rateMeter struct {
	mu    sync.Mutex
	last  map[string]rateSample
	first map[string]rateSample
}

type rateSample struct {
	t          time.Time
	read, done int64
}

// rate returns records per second since the previous event of that step.
func (m *rateMeter) rate(path string, t time.Time, read int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, ok := m.last[path]
	cur := m.last[path]
	cur.t, cur.read = t, read
	m.last[path] = cur
	if !ok || !t.After(prev.t) {
		return "-"
	}
	return fmt.Sprintf("%.0f/s", float64(read-prev.read)/t.Sub(prev.t).Seconds())
}

// eta extrapolates the time left from the bytes read since the first
// event of that step.
func (m *rateMeter) eta(path string, t time.Time, done, total int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.first == nil {
		m.first = map[string]rateSample{}
	}
	f, ok := m.first[path]
	if !ok {
		m.first[path] = rateSample{t: t, done: done}
		return ""
	}
	el := t.Sub(f.t)
	if done <= f.done || el <= 0 {
		return ""
	}
	left := time.Duration(float64(el) * float64(total-done) / float64(done-f.done))
	return left.Round(time.Second).String()
}

// logObserver turns run events into log lines.
func logObserver(l *slog.Logger) flow.Observer {
	rates := &rateMeter{last: map[string]rateSample{}}
	return flow.ObserverFunc(func(e flow.Event) {
		switch e.Kind {
		case flow.StepProgress:
			c := e.Counters
			attrs := []any{"step", e.Path, "read", c["read_count"], "written", c["write_count"],
				"skipped", c["skip_count"], "rate", rates.rate(e.Path, e.Time, c["read_count"])}
			if e.Total > 0 {
				attrs = append(attrs, "done", fmt.Sprintf("%.1f%%", 100*float64(e.Done)/float64(e.Total)))
				if eta := rates.eta(e.Path, e.Time, e.Done, e.Total); eta != "" {
					attrs = append(attrs, "eta", eta)
				}
			}
			l.Info("progress", attrs...)
		case flow.RunStarted:
			l.Info("run started", "flow", e.Flow, "execution_id", e.RunID)
		case flow.RunFinished:
			attrs := []any{"flow", e.Flow, "status", string(e.Status), "duration", e.Duration.Round(1e6).String()}
			if e.Err != nil {
				attrs = append(attrs, "error", e.Err.Error())
			}
			l.Info("run finished", attrs...)
		case flow.StepStarted:
			l.Debug("step started", "step", e.Path, "type", e.StepType)
		case flow.StepCompleted:
			l.Info("step completed", "step", e.Path, "type", e.StepType, "duration", e.Duration.Round(1e5).String())
		case flow.StepSkipped:
			l.Info("step skipped", "step", e.Path)
		case flow.StepRestored:
			l.Info("step restored from an earlier execution", "step", e.Path, "status", string(e.Status))
		case flow.StepFailed:
			switch {
			case errors.Is(e.Err, flow.ErrStopped):
				// The run was asked to stop: not a failure of the step.
				l.Info("step stopped", "step", e.Path, "attempt", e.Attempt, "error", flow.MessageOf(e.Err))
			case flow.KindOf(e.Err) == flow.KindCancelled:
				// A failing sibling or an abort cancelled it; the failure
				// that did has a line of its own. ("context canceled" says
				// nothing to a user.)
				l.Info("step cancelled", "step", e.Path, "attempt", e.Attempt)
			default:
				l.Error("step failed", "step", e.Path, "attempt", e.Attempt, "error", flow.MessageOf(e.Err))
			}
		case flow.StepRetrying:
			l.Warn("step retrying", "step", e.Path, "attempt", e.Attempt, "wait", e.Delay.String(), "error", flow.MessageOf(e.Err))
		case flow.StepRecovered:
			l.Warn("step recovered by catch", "step", e.Path, "error", flow.MessageOf(e.Err))
		case flow.StepLog:
			l.Log(context.Background(), e.Level, e.Message, "step", e.Path)
		}
	})
}

func (c *cli) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check flows without running them",
		Long: `Check flows without running anything: syntax, block and attribute names,
types of constant values, references to params, variables and steps,
functions, and called flows. Problems are printed with their position and
a source snippet; the exit code is 2 when there is any.`,
		Args: argsBetween(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := false
			for _, p := range args {
				set, diags := flow.Load(p, nil)
				if len(diags) > 0 {
					c.printDiags(set, diags)
				}
				if diags.HasErrors() {
					bad = true
					continue
				}
				for _, f := range set.Flows {
					fmt.Fprintf(c.stdout, "%s: flow %q is valid\n", p, f.Name)
				}
			}
			if bad {
				return &exitError{exitUsage, ""}
			}
			return nil
		},
	}
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  argsBetween(0, 0),
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(c.stdout, "flow", version())
		},
	}
}

// version is set with -ldflags "-X github.com/flowbatch/flow/cli.buildVersion=..."; otherwise the
// module version from the build info.
var buildVersion = ""

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
