package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// beginFunc starts the execution a durable command runs: it returns the
// session, the flow and its param values, or an error (an *exitError when
// nothing ran).
type beginFunc func(ctx context.Context, st *openedStore) (*store.Session, *flow.Flow, map[string]cty.Value, error)

// runDurable opens the store, begins an execution with begin, runs it and
// prints its result as exec does. Signals are caught from the start, so
// that one that comes while the store opens stops the run as soon as it
// starts.
func (c *cli) runDurable(output string, logger *slog.Logger, mustExist bool, begin beginFunc) error {
	ctx, abort := context.WithCancel(context.Background())
	defer abort()
	sigs, stopSignals := c.signals()
	defer stopSignals()
	st, err := c.openStore(ctx, mustExist)
	if err != nil {
		return err
	}
	defer st.Close()
	sess, f, params, err := begin(ctx, st)
	if err != nil {
		return err
	}
	if sess.Previous != nil {
		c.sayResuming(logger, sess)
	}
	id := sess.Execution.ID
	if st.running != "" {
		rf := runFile{PID: os.Getpid(), Host: hostname, ExecutionID: id, Flow: f.Name, Since: time.Now().UTC()}
		if err := writeRunFile(st.running, rf); err != nil {
			logger.Warn("cannot write the run file: flow stop will not find this run", "error", err.Error())
		} else {
			defer os.Remove(st.running)
		}
	}
	eng := &flow.Engine{Observer: c.observer(logger), Logger: logger}
	r, err := sess.Start(ctx, eng, f, params)
	if err != nil {
		return &exitError{exitUsage, flow.MessageOf(err)}
	}
	c.watch(r, sigs, abort, logger, func() {
		// Let the store show STOPPING while the run winds down.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = st.RequestStop(ctx, id)
	})
	res, werr := sess.Wait(ctx, r, f)
	c.endProgress()
	if err := c.printResult(output, f, res); err != nil {
		return err
	}
	code := res.Status.ExitCode()
	if werr != nil {
		fmt.Fprintln(c.stderr, "flow:", werr)
		if code == exitOK {
			code = exitFailed
		}
	}
	if code != exitOK {
		return &exitError{code, ""}
	}
	return nil
}

// watch relays signals to a run until it ends: the first stops it at the
// next step boundary (and calls onStop when not nil), the second aborts the
// running steps.
func (c *cli) watch(r *flow.Run, sigs <-chan os.Signal, abort func(), logger *slog.Logger, onStop func()) {
	count := 0
	for {
		select {
		case <-r.Done():
			return
		case s := <-sigs:
			count++
			if count == 1 {
				logger.Warn("stopping at the next step boundary (signal again to abort)", "signal", s.String())
				r.Stop()
				if onStop != nil {
					onStop()
				}
			} else {
				logger.Warn("aborting running steps", "signal", s.String())
				abort()
			}
		}
	}
}

func (c *cli) printResult(output string, f *flow.Flow, res *flow.Result) error {
	if output == "json" {
		if err := writeJSONResult(c.stdout, f, res); err != nil {
			return &exitError{exitFailed, err.Error()}
		}
		return nil
	}
	writeTextResult(c.stdout, f, res)
	return nil
}

// sayResuming tells which execution this one carries on from.
func (c *cli) sayResuming(logger *slog.Logger, sess *store.Session) {
	prev := sess.Previous
	how := fmt.Sprintf("execution %d ended %s", prev.ID, prev.Status)
	switch {
	case prev.FailedStep != "" && prev.Error != "":
		how += fmt.Sprintf(" at %s: %s", prev.FailedStep, prev.Error)
	case prev.FailedStep != "":
		how += " at " + prev.FailedStep
	case prev.Error != "":
		how += ": " + prev.Error
	}
	n := sess.Restored()
	steps := "completed steps"
	if n == 1 {
		steps = "completed step"
	}
	msg := fmt.Sprintf("resuming execution %d of flow %s (%s); %d %s will not run again",
		sess.Execution.ID, sess.Execution.Flow, how, n, steps)
	if c.logFormat == "json" || c.quiet {
		logger.Info(msg, "execution_id", sess.ExecutionID(), "resumed_from", strconv.FormatInt(prev.ID, 10), "restored", n)
		return
	}
	fmt.Fprintln(c.stderr, msg)
}

var (
	execInErr  = regexp.MustCompile(`^execution (\d+)`)
	ownerInErr = regexp.MustCompile(`^execution (\d+) \(([^)]*)\)`)
)

// startError explains why the store refused to start an execution of
// flowName; rerunHint says how to run a completed instance again.
func startError(err error, flowName, rerunHint string) error {
	msg := err.Error()
	switch {
	case errors.Is(err, store.ErrCompleted):
		done := ""
		if m := execInErr.FindStringSubmatch(msg); m != nil {
			done = " in execution " + m[1]
		}
		return &exitError{exitUsage, fmt.Sprintf("flow %s already completed with these params%s; %s", flowName, done, rerunHint)}
	case errors.Is(err, store.ErrOwned):
		if m := ownerInErr.FindStringSubmatch(msg); m != nil {
			return &exitError{exitUsage, fmt.Sprintf("flow %s is already running: execution %s is owned by %s, which is alive; wait for it to end or stop it with: flow stop %s",
				flowName, m[1], m[2], m[1])}
		}
	case errors.Is(err, store.ErrAbandoned):
		return &exitError{exitUsage, fmt.Sprintf("cannot resume: %s; flow exec starts flow %s afresh", strings.Replace(msg, ": execution abandoned", " was abandoned", 1), flowName)}
	case errors.Is(err, store.ErrNotFound):
		return &exitError{exitUsage, msg}
	}
	return &exitError{exitUsage, fmt.Sprintf("cannot start flow %s: %s", flowName, flow.MessageOf(err))}
}

// parseID reads an EXEC_ID argument.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &exitError{exitUsage, fmt.Sprintf("execution id %q: use the number flow history shows", s)}
	}
	return id, nil
}

// notFound turns a store error about execution id into a message.
func notFound(err error, id int64, st *openedStore) error {
	if errors.Is(err, store.ErrNotFound) {
		return &exitError{exitUsage, fmt.Sprintf("execution %d not found in store %s", id, st.spec)}
	}
	return &exitError{exitUsage, fmt.Sprintf("store %s: %v", st.spec, err)}
}

func (c *cli) resumeCmd() *cobra.Command {
	var params []string
	var output string
	cmd := &cobra.Command{
		Use:   "resume EXEC_ID",
		Short: "Resume a failed or stopped execution",
		Long: `Start a new execution that carries on from execution EXEC_ID, which ended
FAILED or STOPPED, or was left running by a process that died. Steps that
completed are not run again (their outputs and variables are restored);
each unfinished step continues from its saved progress; the failed step
runs again.

The flow is loaded again from the file the execution ran, with the params
it was given. Sensitive params are not kept in the store: give them again
with -p. Only sensitive params and params declared identifying = false may
be given: the others identify the job instance and cannot change.

When a later execution of the same instance exists, that one is resumed.
A completed, abandoned or still running instance is refused (exit code 2).
Otherwise the exit codes are those of exec: 0 completed, 1 failed,
3 stopped.`,
		Example: `  flow resume 42
  flow resume 42 -p db_password="$DB_PASSWORD" --output json
  flow --store postgres://flow@db.internal/flow resume 42`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return &exitError{exitUsage, fmt.Sprintf("--output %q: use text or json", output)}
			}
			logger, err := c.logger()
			if err != nil {
				return err
			}
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			lease, err := c.lease()
			if err != nil {
				return err
			}
			return c.runDurable(output, logger, true, func(ctx context.Context, st *openedStore) (*store.Session, *flow.Flow, map[string]cty.Value, error) {
				e, err := st.Execution(ctx, id)
				if err != nil {
					return nil, nil, nil, notFound(err, id, st)
				}
				f, values, err := c.resumeFlow(e, params)
				if err != nil {
					return nil, nil, nil, err
				}
				sess, err := store.Resume(ctx, st, id, store.Options{Lease: lease})
				if err != nil {
					return nil, nil, nil, startError(err, f.Name, "flow exec --rerun runs it again as a new instance")
				}
				return sess, f, values, nil
			})
		},
	}
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "a sensitive or non-identifying param value, name=value (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, or json: one object on stdout at the end")
	return cmd
}

// resumeFlow loads the flow execution e ran and its params: those kept
// with e, then kv.
func (c *cli) resumeFlow(e *store.Execution, kv []string) (*flow.Flow, map[string]cty.Value, error) {
	if e.File == "" {
		return nil, nil, &exitError{exitUsage, fmt.Sprintf("execution %d of flow %s does not say which file it ran", e.ID, e.Flow)}
	}
	set, err := c.load(e.File)
	if err != nil {
		return nil, nil, err
	}
	f, err := set.Flow(e.Flow)
	if err != nil {
		return nil, nil, &exitError{exitUsage, fmt.Sprintf("execution %d ran flow %s of %s: %s", e.ID, e.Flow, e.File, flow.MessageOf(err))}
	}
	values, missing, err := store.ParseParams(f, e.Params)
	if err != nil {
		return nil, nil, &exitError{exitUsage, fmt.Sprintf("the params of execution %d no longer fit flow %s: %s", e.ID, f.Name, flow.MessageOf(err))}
	}
	given := map[string]bool{}
	for _, s := range kv {
		name, text, ok := strings.Cut(s, "=")
		if !ok {
			return nil, nil, &exitError{exitUsage, fmt.Sprintf("-p %q: use -p name=value", s)}
		}
		p := f.Param(name)
		switch {
		case p == nil:
			return nil, nil, noParam(f, s, name)
		case !p.Sensitive && p.Identifying:
			return nil, nil, &exitError{exitUsage, fmt.Sprintf("-p %s: param %q identifies the job instance and cannot change on resume (it is %q)", name, name, e.Params[name])}
		}
		v, err := flow.ParseParam(p, text)
		if err != nil {
			return nil, nil, &exitError{exitUsage, flow.MessageOf(err)}
		}
		values[name] = v
		given[name] = true
	}
	var still []string
	for _, name := range missing {
		if !given[name] {
			still = append(still, name)
		}
	}
	if len(still) > 0 {
		return nil, nil, &exitError{exitUsage, fmt.Sprintf("execution %d was given sensitive params, which the store does not keep; give them again: %s",
			e.ID, "-p "+strings.Join(still, "=... -p ")+"=...")}
	}
	if _, err := f.BindParams(values); err != nil {
		return nil, nil, &exitError{exitUsage, flow.MessageOf(err)}
	}
	return f, values, nil
}
