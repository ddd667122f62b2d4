package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
)

// The JSON shapes of history, show, stop, abandon and prune. Every key is
// always present; ids are strings, as exec's execution_id; times are
// RFC 3339 in UTC, or null.

type jsonExecution struct {
	ExecutionID   string                     `json:"execution_id"`
	InstanceID    string                     `json:"instance_id"`
	Flow          string                     `json:"flow"`
	File          string                     `json:"file"`
	Params        map[string]string          `json:"params"`
	Status        flow.Status                `json:"status"`
	ExitStatus    string                     `json:"exit_status"`
	Created       *time.Time                 `json:"created"`
	Started       *time.Time                 `json:"started"`
	Ended         *time.Time                 `json:"ended"`
	Updated       *time.Time                 `json:"updated"`
	DurationMS    *int64                     `json:"duration_ms"`
	Error         *jsonExecError             `json:"error"`
	Owner         jsonOwner                  `json:"owner"`
	StopRequested bool                       `json:"stop_requested"`
	ResumedFrom   *string                    `json:"resumed_from"`
	Outputs       map[string]json.RawMessage `json:"outputs"`
}

type jsonExecError struct {
	Step    string `json:"step"`
	Message string `json:"message"`
}

type jsonOwner struct {
	Host       string     `json:"host"`
	PID        int        `json:"pid"`
	LeaseUntil *time.Time `json:"lease_until"`
}

type jsonStep struct {
	Path        string           `json:"path"`
	Type        string           `json:"type"`
	Status      flow.Status      `json:"status"`
	Attempt     int              `json:"attempt"`
	Started     *time.Time       `json:"started"`
	Ended       *time.Time       `json:"ended"`
	DurationMS  *int64           `json:"duration_ms"`
	Counters    map[string]int64 `json:"counters"`
	Error       *jsonStepError   `json:"error"`
	ExecutionID string           `json:"execution_id"`
	Restored    bool             `json:"restored"`
}

type jsonStepError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

type jsonHistory struct {
	Executions []jsonExecution `json:"executions"`
}

type jsonShow struct {
	Execution jsonExecution `json:"execution"`
	Steps     []jsonStep    `json:"steps"`
}

type jsonStop struct {
	ExecutionID string `json:"execution_id"`
	Flow        string `json:"flow"`
	// Action is "stop_requested" (recorded in the store, seen by the
	// owner's next heartbeat) or "signalled" (SIGTERM sent to the process
	// that holds a bbolt store).
	Action string `json:"action"`
	Host   string `json:"host"`
	PID    int    `json:"pid"`
}

type jsonAbandon struct {
	ExecutionID string      `json:"execution_id"`
	Flow        string      `json:"flow"`
	Status      flow.Status `json:"status"`
	Was         flow.Status `json:"was"`
}

type jsonPrune struct {
	Deleted int       `json:"deleted"`
	Before  time.Time `json:"before"`
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func durationMS(start, end time.Time) *int64 {
	if start.IsZero() || end.IsZero() {
		return nil
	}
	ms := end.Sub(start).Milliseconds()
	return &ms
}

// outputs decodes the outputs kept with an execution (cty JSON with their
// types) into values.
func outputs(e *store.Execution) (map[string]cty.Value, error) {
	out := map[string]cty.Value{}
	if len(e.Outputs) == 0 {
		return out, nil
	}
	v, err := flow.UnmarshalValue(e.Outputs)
	if err != nil {
		return nil, fmt.Errorf("outputs of execution %d: %w", e.ID, err)
	}
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return out, nil
	}
	for k, x := range v.AsValueMap() {
		out[k] = x
	}
	return out, nil
}

func toJSONExecution(e *store.Execution) jsonExecution {
	j := jsonExecution{
		ExecutionID: idString(e.ID), InstanceID: idString(e.InstanceID), Flow: e.Flow, File: e.File,
		Params: e.Params, Status: e.Status, ExitStatus: e.ExitStatus,
		Created: timePtr(e.Created), Started: timePtr(e.Started), Ended: timePtr(e.Ended), Updated: timePtr(e.Updated),
		DurationMS:    durationMS(e.Started, e.Ended),
		Owner:         jsonOwner{Host: e.Owner.Host, PID: e.Owner.PID, LeaseUntil: timePtr(e.Owner.Until)},
		StopRequested: e.StopRequested,
		Outputs:       map[string]json.RawMessage{},
	}
	if j.Params == nil {
		j.Params = map[string]string{}
	}
	if e.Error != "" || e.FailedStep != "" {
		j.Error = &jsonExecError{Step: e.FailedStep, Message: e.Error}
	}
	if e.ResumedFrom != 0 {
		s := idString(e.ResumedFrom)
		j.ResumedFrom = &s
	}
	if outs, err := outputs(e); err == nil {
		for k, v := range outs {
			if b, err := (ctyjson.SimpleJSONValue{Value: v}).MarshalJSON(); err == nil {
				j.Outputs[k] = b
			}
		}
	}
	return j
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return &exitError{exitFailed, err.Error()}
	}
	return nil
}

// openExecution opens the store and reads the execution an EXEC_ID
// argument names; the caller closes the store.
func (c *cli) openExecution(ctx context.Context, arg string) (*openedStore, *store.Execution, error) {
	id, err := parseID(arg)
	if err != nil {
		return nil, nil, err
	}
	st, err := c.openStore(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	e, err := st.Execution(ctx, id)
	if err != nil {
		err = notFound(err, id, st)
		st.Close()
		return nil, nil, err
	}
	return st, e, nil
}

func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return &exitError{exitUsage, fmt.Sprintf("--output %q: use text or json", output)}
	}
	return nil
}

// fmtTime shows a time in the local zone, to the second.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// fmtDuration rounds a duration for display.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// oneLine keeps the first line of s, at most max runes.
func oneLine(s string, max int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

var statuses = []flow.Status{flow.Starting, flow.Started, flow.Stopping, flow.Stopped, flow.Completed, flow.Failed, flow.Abandoned, flow.Unknown}

func (c *cli) historyCmd() *cobra.Command {
	var status, output string
	var limit int
	cmd := &cobra.Command{
		Use:   "history [FLOW]",
		Short: "List executions, newest first",
		Long: `List the executions recorded in the store, newest first: id, flow, status,
start time, duration, and where and why a failed one failed. FLOW keeps
the executions of one flow; --status those of one status (STARTED,
STOPPING, STOPPED, COMPLETED, FAILED or ABANDONED); --limit at most that
many (0 for all).

With --output json: {"executions": [...]}, each as flow show prints its
execution.`,
		Example: `  flow history
  flow history settlement --status FAILED
  flow history --limit 0 --output json`,
		Args: argsBetween(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			filter := store.Filter{Limit: limit}
			if len(args) == 1 {
				filter.Flow = args[0]
			}
			if status != "" {
				s := flow.Status(strings.ToUpper(status))
				known := false
				for _, k := range statuses {
					known = known || k == s
				}
				if !known {
					return &exitError{exitUsage, fmt.Sprintf("--status %q: use STARTED, STOPPING, STOPPED, COMPLETED, FAILED or ABANDONED", status)}
				}
				filter.Status = s
			}
			if limit < 0 {
				return &exitError{exitUsage, fmt.Sprintf("--limit %d: use 0 (no limit) or more", limit)}
			}
			ctx := context.Background()
			var execs []*store.Execution
			st, err := c.openStore(ctx, true)
			switch {
			case err != nil && !isMissing(err):
				return err
			case err == nil:
				defer st.Close()
				if execs, err = st.History(ctx, filter); err != nil {
					return &exitError{exitUsage, fmt.Sprintf("store %s: %v", st.spec, err)}
				}
			}
			if output == "json" {
				out := jsonHistory{Executions: []jsonExecution{}}
				for _, e := range execs {
					out.Executions = append(out.Executions, toJSONExecution(e))
				}
				return writeJSON(c.stdout, out)
			}
			if len(execs) == 0 {
				fmt.Fprintln(c.stdout, "no executions")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFLOW\tSTATUS\tSTARTED\tDURATION\tFAILED STEP / ERROR")
			for _, e := range execs {
				dur := "-"
				why := e.Error
				if e.FailedStep != "" {
					why = e.FailedStep + ": " + e.Error
				}
				switch {
				case st != nil && st.ownerGone(e):
					// Left STARTED by a process that died: not running.
					why = fmt.Sprintf("owner %s is gone: resume or abandon it", e.Owner)
				case e.Live():
					dur = "running"
				case !e.Ended.IsZero() && !e.Started.IsZero():
					dur = fmtDuration(e.Ended.Sub(e.Started))
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Flow, e.Status, fmtTime(e.Started), dur, oneLine(why, 80))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only executions of this status")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many executions; 0 for all")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text (a table) or json")
	return cmd
}

func (c *cli) showCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show EXEC_ID",
		Short: "Show an execution and the tree of its steps",
		Long: `Show one execution: its flow and file, params (sensitive ones masked),
status, times, owner, error and outputs; then the tree of its steps, each
with a status symbol, its type, duration, attempts, counters and error.

  ✓ completed   ✗ failed   ↷ skipped   ■ stopped   … running

Steps that an earlier execution of the same instance completed, and that
this one restored instead of running, are marked (from execution N).
Iterations of a loop (#N), items of a fork ([N]) and catch/finally bodies
(@catch, @finally) are shown as levels of the tree.

With --output json: {"execution": {...}, "steps": [...]}, the steps in the
order of the tree, each with its path.`,
		Example: `  flow show 42
  flow show 42 --output json | jq '.steps[] | select(.status == "FAILED")'`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx := context.Background()
			st, e, err := c.openExecution(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			recs, err := stepsOf(ctx, st, e)
			if err != nil {
				return &exitError{exitUsage, fmt.Sprintf("store %s: %v", st.spec, err)}
			}
			roots := buildTree(recs)
			if output == "json" {
				out := jsonShow{Execution: toJSONExecution(e), Steps: []jsonStep{}}
				walk(roots, 0, func(n *node, _ int) {
					if n.rec != nil {
						out.Steps = append(out.Steps, toJSONStep(n.rec, e.ID))
					}
				})
				return writeJSON(c.stdout, out)
			}
			writeExecution(c.stdout, e, st.ownerGone(e))
			fmt.Fprintln(c.stdout)
			fmt.Fprintln(c.stdout, "steps")
			writeTree(c.stdout, roots, e.ID, st.ownerGone(e))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// stepsOf returns the records of execution e and those it restored from
// earlier executions of its instance.
func stepsOf(ctx context.Context, st store.Store, e *store.Execution) ([]store.StepRecord, error) {
	recs, err := st.Steps(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, r := range recs {
		own[r.Path] = true
	}
	if e.ResumedFrom == 0 {
		return recs, nil
	}
	states, err := st.States(ctx, e.InstanceID)
	if err != nil {
		return nil, err
	}
	// What e restored: the steps an earlier execution completed or
	// skipped, with everything below them (a caught failure, say).
	var done []string
	for _, r := range states {
		if !own[r.Path] && r.ExecutionID < e.ID && (r.Status == flow.Completed || r.Status == flow.Skipped) {
			done = append(done, r.Path)
		}
	}
	for _, r := range states {
		if own[r.Path] || r.ExecutionID >= e.ID {
			continue
		}
		for _, p := range done {
			if flow.Under(r.Path, p) {
				recs = append(recs, r)
				break
			}
		}
	}
	return recs, nil
}

func toJSONStep(r *store.StepRecord, execID int64) jsonStep {
	j := jsonStep{Path: r.Path, Type: r.Type, Status: r.Status, Attempt: r.Attempt,
		Started: timePtr(r.Started), Ended: timePtr(r.Ended), DurationMS: durationMS(r.Started, r.Ended),
		Counters: r.Counters, ExecutionID: idString(r.ExecutionID), Restored: r.ExecutionID != execID}
	if j.Counters == nil {
		j.Counters = map[string]int64{}
	}
	if r.Error != "" {
		j.Error = &jsonStepError{Kind: r.ErrorKind, Message: r.Error}
	}
	return j
}

// writeExecution prints the header of flow show; gone says that e's
// owner died without ending it.
func writeExecution(w io.Writer, e *store.Execution, gone bool) {
	line := func(k, v string) { fmt.Fprintf(w, "%-10s %s\n", k, v) }
	line("execution", idString(e.ID))
	line("flow", e.Flow)
	line("file", e.File)
	line("instance", idString(e.InstanceID))
	status := string(e.Status)
	if e.ExitStatus != "" && e.ExitStatus != status {
		status += " (exit status " + e.ExitStatus + ")"
	}
	if e.StopRequested && e.Live() {
		status += " (stop requested)"
	}
	line("status", status)
	names := make([]string, 0, len(e.Params))
	for k := range e.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		key := ""
		if i == 0 {
			key = "params"
		}
		line(key, k+"="+e.Params[k])
	}
	line("created", fmtTime(e.Created))
	line("started", fmtTime(e.Started))
	if !e.Ended.IsZero() {
		line("ended", fmtTime(e.Ended)+" (took "+fmtDuration(e.Ended.Sub(e.Started))+")")
	}
	owner := e.Owner.String()
	switch {
	case gone:
		owner += fmt.Sprintf(", gone without ending it: flow resume %d, or flow abandon %d", e.ID, e.ID)
	case e.Live():
		owner += ", lease until " + fmtTime(e.Owner.Until)
	}
	line("owner", owner)
	if e.ResumedFrom != 0 {
		line("resumed", "from execution "+idString(e.ResumedFrom))
	}
	if e.Error != "" || e.FailedStep != "" {
		msg := e.Error
		if e.FailedStep != "" {
			msg = e.FailedStep + ": " + e.Error
		}
		line("error", strings.ReplaceAll(msg, "\n", "\n           "))
	}
	outs, err := outputs(e)
	if err != nil {
		line("outputs", "(unreadable: "+err.Error()+")")
		return
	}
	names = names[:0]
	for k := range outs {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		key := ""
		if i == 0 {
			key = "outputs"
		}
		line(key, k+" = "+strings.ReplaceAll(flow.FormatValue(outs[k]), "\n", "\n           "))
	}
}

// node is one level of the step tree: a step with its record, or a level
// without one (a loop iteration #N, a fork item [N], a catch body @catch).
type node struct {
	key      string
	index    int // N of #N or [N]; -1 otherwise
	rec      *store.StepRecord
	children []*node
	first    time.Time // the earliest start in the subtree
}

var (
	indexed  = regexp.MustCompile(`^(.+?)(#\d+|\[\d+\])$`)
	indexKey = regexp.MustCompile(`^(?:#(\d+)|\[(\d+)\])$`)
	daysAge  = regexp.MustCompile(`^(\d+(?:\.\d+)?)d(.*)$`)
)

// keys splits a step path into the levels of the tree: main/loop#2/x is
// main, loop, #2, x.
func keys(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if m := indexed.FindStringSubmatch(seg); m != nil {
			out = append(out, m[1], m[2])
			continue
		}
		out = append(out, seg)
	}
	return out
}

func buildTree(recs []store.StepRecord) []*node {
	root := &node{index: -1}
	for i := range recs {
		r := &recs[i]
		if r.Status == flow.Unknown || r.Status == "" || r.Type == flow.VarsType {
			continue // forgotten by a retry; vars kept for a resume
		}
		n := root
		for _, k := range keys(r.Path) {
			var next *node
			for _, ch := range n.children {
				if ch.key == k {
					next = ch
					break
				}
			}
			if next == nil {
				next = &node{key: k, index: -1}
				if m := indexKey.FindStringSubmatch(k); m != nil {
					next.index, _ = strconv.Atoi(m[1] + m[2])
				}
				n.children = append(n.children, next)
			}
			n = next
		}
		n.rec = r
	}
	var order func(n *node) time.Time
	order = func(n *node) time.Time {
		if n.rec != nil {
			n.first = n.rec.Started
		}
		for _, ch := range n.children {
			if t := order(ch); !t.IsZero() && (n.first.IsZero() || t.Before(n.first)) {
				n.first = t
			}
		}
		sort.SliceStable(n.children, func(i, j int) bool {
			a, b := n.children[i], n.children[j]
			if a.index >= 0 && b.index >= 0 {
				return a.index < b.index
			}
			if !a.first.Equal(b.first) {
				if a.first.IsZero() || b.first.IsZero() {
					return b.first.IsZero()
				}
				return a.first.Before(b.first)
			}
			return a.key < b.key
		})
		return n.first
	}
	order(root)
	return root.children
}

func walk(nodes []*node, depth int, fn func(n *node, depth int)) {
	for _, n := range nodes {
		fn(n, depth)
		walk(n.children, depth+1, fn)
	}
}

func symbol(s flow.Status) string {
	switch s {
	case flow.Completed:
		return "✓"
	case flow.Failed:
		return "✗"
	case flow.Skipped:
		return "↷"
	case flow.Stopped:
		return "■"
	case flow.Starting, flow.Started, flow.Stopping:
		return "…"
	}
	return "?"
}

// writeTree prints the step tree of execution execID; gone says that its
// owner died, so that steps left running are shown interrupted.
func writeTree(w io.Writer, roots []*node, execID int64, gone bool) {
	type row struct{ name, typ, rest string }
	var rows []row
	width, typeWidth := 0, 0
	walk(roots, 0, func(n *node, depth int) {
		r := row{name: strings.Repeat("  ", depth+1)}
		if n.rec == nil {
			r.name += n.key
		} else {
			rec := n.rec
			r.name += symbol(rec.Status) + " " + n.key
			r.typ = rec.Type
			var rest []string
			switch {
			case !rec.Started.IsZero() && !rec.Ended.IsZero():
				rest = append(rest, fmtDuration(rec.Ended.Sub(rec.Started)))
			case (rec.Status == flow.Started || rec.Status == flow.Starting || rec.Status == flow.Stopping) && gone:
				rest = append(rest, "interrupted")
			case rec.Status == flow.Started || rec.Status == flow.Starting || rec.Status == flow.Stopping:
				rest = append(rest, "running")
			}
			if rec.Attempt > 1 {
				rest = append(rest, plural(rec.Attempt, "attempt", "attempts"))
			}
			if rec.ExecutionID != execID {
				rest = append(rest, fmt.Sprintf("(from execution %d)", rec.ExecutionID))
			}
			if len(rec.Counters) > 0 {
				names := make([]string, 0, len(rec.Counters))
				for k := range rec.Counters {
					names = append(names, k)
				}
				sort.Strings(names)
				var cs []string
				for _, k := range names {
					cs = append(cs, fmt.Sprintf("%s=%d", k, rec.Counters[k]))
				}
				rest = append(rest, strings.Join(cs, " "))
			}
			if rec.Error != "" {
				rest = append(rest, "error: "+oneLine(rec.Error, 200))
			}
			r.rest = strings.Join(rest, "  ")
		}
		width = max(width, len([]rune(r.name)))
		typeWidth = max(typeWidth, len(r.typ))
		rows = append(rows, r)
	})
	for _, r := range rows {
		if r.typ == "" && r.rest == "" {
			fmt.Fprintln(w, r.name)
			continue
		}
		pad := strings.Repeat(" ", width-len([]rune(r.name)))
		line := fmt.Sprintf("%s%s  %-*s  %s", r.name, pad, typeWidth, r.typ, r.rest)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func (c *cli) stopCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "stop EXEC_ID",
		Short: "Ask a running execution to stop",
		Long: `Ask the process that runs execution EXEC_ID to stop it at its next safe
point (between steps): the execution goes STOPPING, then ends STOPPED
(that process exits with code 3), and can be resumed later.

With a PostgreSQL store the request is recorded in the store; the owner
sees it at its next heartbeat (every third of its lease). A bbolt store is
held by the process that runs the execution, so stop cannot open it: it
reads who holds the file and, when that process runs EXEC_ID on this host,
sends it SIGTERM, which flow exec takes as a stop request.

stop does not wait for the execution to end. Exit code 0 when the request
was made, 2 when the execution is unknown or not running.`,
		Example: `  flow stop 42
  flow --store postgres://flow@db.internal/flow stop 42`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			ctx := context.Background()
			st, err := c.openStore(ctx, true)
			var inUse *bolt.InUseError
			if errors.As(err, &inUse) {
				return c.stopHolder(id, inUse, output)
			}
			if err != nil {
				return err
			}
			defer st.Close()
			e, err := st.Execution(ctx, id)
			if err != nil {
				return notFound(err, id, st)
			}
			if !e.Live() {
				return &exitError{exitUsage, fmt.Sprintf("execution %d of flow %s is not running: it ended %s", id, e.Flow, e.Status)}
			}
			if st.ownerGone(e) {
				return &exitError{exitUsage, fmt.Sprintf("execution %d of flow %s is not running: its owner, %s, is gone; resume it with flow resume %d or abandon it with flow abandon %d",
					id, e.Flow, e.Owner, id, id)}
			}
			if err := st.RequestStop(ctx, id); err != nil {
				if errors.Is(err, store.ErrNotLive) {
					return &exitError{exitUsage, fmt.Sprintf("execution %d of flow %s is not running: %v", id, e.Flow, err)}
				}
				return notFound(err, id, st)
			}
			if output == "json" {
				return writeJSON(c.stdout, jsonStop{ExecutionID: idString(id), Flow: e.Flow, Action: "stop_requested", Host: e.Owner.Host, PID: e.Owner.PID})
			}
			fmt.Fprintf(c.stdout, "stop requested for execution %d of flow %s (run by %s): it stops at its next safe point\n", id, e.Flow, e.Owner)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// stopHolder stops execution id of a bbolt store held by another process:
// SIGTERM to that process when the run file says it runs id on this host.
func (c *cli) stopHolder(id int64, inUse *bolt.InUseError, output string) error {
	cannot := func(format string, args ...any) error {
		return &exitError{exitUsage, fmt.Sprintf("cannot stop execution %d: ", id) + fmt.Sprintf(format, args...)}
	}
	o := inUse.Owner
	if o == nil {
		return cannot("%v", inUse)
	}
	if o.Host != hostname {
		return cannot("store %s is held by pid %d on host %s, not on this host (%s): run flow stop there", inUse.Path, o.PID, o.Host, hostname)
	}
	rf, err := readRunFile(inUse.Path + ".run")
	if err != nil || rf.PID != o.PID || rf.Host != o.Host {
		return cannot("store %s is held by pid %d (%s), which runs no execution", inUse.Path, o.PID, strings.Join(o.Args, " "))
	}
	if rf.ExecutionID != id {
		return cannot("store %s is held by pid %d, which runs execution %d of flow %s, not execution %d", inUse.Path, o.PID, rf.ExecutionID, rf.Flow, id)
	}
	if err := syscall.Kill(o.PID, syscall.SIGTERM); err != nil {
		return cannot("signal pid %d: %v", o.PID, err)
	}
	if output == "json" {
		return writeJSON(c.stdout, jsonStop{ExecutionID: idString(id), Flow: rf.Flow, Action: "signalled", Host: o.Host, PID: o.PID})
	}
	fmt.Fprintf(c.stdout, "sent SIGTERM to pid %d, which runs execution %d of flow %s and holds store %s: it stops at its next safe point\n",
		o.PID, id, rf.Flow, inUse.Path)
	return nil
}

func (c *cli) abandonCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "abandon EXEC_ID",
		Short: "Give up an execution for good",
		Long: `Mark execution EXEC_ID ABANDONED: it will never be resumed, and the next
flow exec with the same params starts its flow afresh, as a new job
instance, instead of resuming it. A completed execution cannot be
abandoned, nor one that a live process still runs (stop it first).`,
		Example: `  flow abandon 42`,
		Args:    argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx := context.Background()
			st, e, err := c.openExecution(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			id := e.ID
			if err := st.Abandon(ctx, id); err != nil {
				switch {
				case errors.Is(err, store.ErrCompleted):
					return &exitError{exitUsage, fmt.Sprintf("execution %d of flow %s completed: there is nothing to abandon", id, e.Flow)}
				case errors.Is(err, store.ErrOwned):
					return &exitError{exitUsage, fmt.Sprintf("execution %d of flow %s is still run by %s: stop it first with flow stop %d", id, e.Flow, e.Owner, id)}
				}
				return notFound(err, id, st)
			}
			if output == "json" {
				return writeJSON(c.stdout, jsonAbandon{ExecutionID: idString(id), Flow: e.Flow, Status: flow.Abandoned, Was: e.Status})
			}
			if e.Status == flow.Abandoned {
				fmt.Fprintf(c.stdout, "execution %d of flow %s was already abandoned\n", id, e.Flow)
				return nil
			}
			// flow exec looks at the instance's last execution: when a later
			// one carried this one on, abandoning this one changes nothing.
			if later := latestOfInstance(ctx, st, e); later != nil {
				fmt.Fprintf(c.stdout, "execution %d of flow %s abandoned (it was %s); execution %d (%s) carried it on since, and is the one flow exec looks at",
					id, e.Flow, e.Status, later.ID, later.Status)
				if later.Status != flow.Completed && later.Status != flow.Abandoned {
					fmt.Fprintf(c.stdout, ": abandon %d to start afresh", later.ID)
				}
				fmt.Fprintln(c.stdout)
				return nil
			}
			fmt.Fprintf(c.stdout, "execution %d of flow %s abandoned (it was %s); the next flow exec with its params starts afresh\n", id, e.Flow, e.Status)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// parseAge reads a Go duration, or one with a leading number of days:
// 30d, 1.5d, 7d12h, 36h.
func parseAge(s string) (time.Duration, error) {
	var days float64
	rest, withDays := s, false
	if m := daysAge.FindStringSubmatch(s); m != nil {
		days, _ = strconv.ParseFloat(m[1], 64)
		rest, withDays = m[2], true
	}
	d := time.Duration(days * 24 * float64(time.Hour))
	if rest != "" || !withDays {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("--older-than %q: use a duration such as 30d, 12h or 90m", s)
		}
		d += more
	}
	if d < 0 {
		return 0, fmt.Errorf("--older-than %q: a negative age", s)
	}
	return d, nil
}

func (c *cli) pruneCmd() *cobra.Command {
	var olderThan, output string
	cmd := &cobra.Command{
		Use:   "prune --older-than AGE",
		Short: "Delete old executions",
		Long: `Delete the executions that ended more than AGE ago, with their step
records, and the job instances left without executions. Running
executions are never deleted.

AGE is a Go duration (90m, 36h) with days allowed in front: 30d, 7d12h.

A pruned instance is forgotten: the next flow exec with its params starts
afresh, even if its last execution had failed.`,
		Example: `  flow prune --older-than 30d
  flow prune --older-than 12h --output json`,
		Args: argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if olderThan == "" {
				return &exitError{exitUsage, "prune needs --older-than, such as --older-than 30d"}
			}
			age, err := parseAge(olderThan)
			if err != nil {
				return &exitError{exitUsage, err.Error()}
			}
			before := time.Now().Add(-age)
			ctx := context.Background()
			n := 0
			st, err := c.openStore(ctx, true)
			switch {
			case err != nil && !isMissing(err):
				return err
			case err == nil:
				defer st.Close()
				if n, err = st.Prune(ctx, before); err != nil {
					return &exitError{exitUsage, fmt.Sprintf("store %s: %v", st.spec, err)}
				}
			}
			if output == "json" {
				return writeJSON(c.stdout, jsonPrune{Deleted: n, Before: before.UTC()})
			}
			fmt.Fprintf(c.stdout, "deleted %s that ended before %s\n", plural(n, "execution", "executions"), fmtTime(before))
			return nil
		},
	}
	cmd.Flags().StringVar(&olderThan, "older-than", "", "delete executions that ended longer ago than this: 30d, 12h, ...")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// latestOfInstance returns the newest execution of e's instance when it is
// a later one than e, else nil (also when the history cannot be read: the
// caller's message is then the general one).
func latestOfInstance(ctx context.Context, st store.Store, e *store.Execution) *store.Execution {
	execs, err := st.History(ctx, store.Filter{Flow: e.Flow})
	if err != nil {
		return nil
	}
	for _, x := range execs { // newest first
		if x.InstanceID == e.InstanceID {
			if x.ID > e.ID {
				return x
			}
			return nil
		}
	}
	return nil
}
