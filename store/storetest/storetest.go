// Package storetest is the conformance suite every store.Store passes.
//
// A store's test calls Run with a function that opens a new, empty store
// for one subtest and closes it when the subtest ends (t.Cleanup):
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := memory.New()
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Times the suite writes are truncated to microseconds (PostgreSQL keeps
// no more) and compared with time.Equal, whatever their location.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
)

// Run runs the conformance suite: one subtest per behaviour, each on a
// store of its own from open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"BeginFresh", testBeginFresh},
		{"BeginResumes", testBeginResumes},
		{"Completed", testCompleted},
		{"Rerun", testRerun},
		{"LiveOwner", testLiveOwner},
		{"DeadOwner", testDeadOwner},
		{"Resume", testResume},
		{"Abandon", testAbandon},
		{"Commit", testCommit},
		{"CommitAtomic", testCommitAtomic},
		{"CommitLeaseLost", testCommitLeaseLost},
		{"States", testStates},
		{"History", testHistory},
		{"HeartbeatAndStop", testHeartbeatAndStop},
		{"Prune", testPrune},
		{"NotFound", testNotFound},
		{"ConcurrentBegin", testConcurrentBegin},
		{"LargeCommit", testLargeCommit},
		{"Timestamps", testTimestamps},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned no store")
			}
			tc.fn(t, s)
		})
	}
}

// now is the suite's clock: the wall clock (leases are also compared with
// it by Abandon), truncated to microseconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

var tokens atomic.Int64

// owner returns an owner of another process with a lease of an hour.
func owner(name string, at time.Time) store.Owner {
	return store.Owner{
		Host:  "host-" + name,
		PID:   10000 + int(tokens.Add(1)),
		Token: fmt.Sprintf("%s-%d", name, tokens.Add(1)),
		Until: at.Add(time.Hour),
	}
}

func alive(store.Owner) bool { return true }
func dead(store.Owner) bool  { return false }

func request(flowName, key string, o store.Owner, at time.Time) store.BeginRequest {
	return store.BeginRequest{
		Flow:   flowName,
		Key:    key,
		File:   flowName + ".flow.hcl",
		Params: map[string]string{"biz_date": "2026-11-20", "password": "***"},
		Owner:  o,
		Alive:  alive,
		Now:    at,
	}
}

func begin(t *testing.T, s store.Store, req store.BeginRequest) *store.Begun {
	t.Helper()
	b, err := s.Begin(t.Context(), req)
	if err != nil {
		t.Fatalf("Begin(%s, %s): %v", req.Flow, req.Key, err)
	}
	if b.Instance == nil || b.Execution == nil {
		t.Fatalf("Begin(%s, %s) = %+v: no instance or execution", req.Flow, req.Key, b)
	}
	return b
}

// end commits the end of an execution with status st at time at.
func end(t *testing.T, s store.Store, e *store.Execution, st flow.Status, at time.Time) *store.Execution {
	t.Helper()
	c := *e
	c.Status = st
	c.ExitStatus = string(st)
	c.Ended = at
	c.Updated = at
	if st == flow.Failed {
		c.FailedStep = "main/b"
		c.Error = "boom"
	}
	if err := s.Commit(t.Context(), e.ID, &c, nil); err != nil {
		t.Fatalf("Commit(%d, %s): %v", e.ID, st, err)
	}
	return &c
}

func execution(t *testing.T, s store.Store, id int64) *store.Execution {
	t.Helper()
	e, err := s.Execution(t.Context(), id)
	if err != nil {
		t.Fatalf("Execution(%d): %v", id, err)
	}
	return e
}

func states(t *testing.T, s store.Store, instID int64) []store.StepRecord {
	t.Helper()
	r, err := s.States(t.Context(), instID)
	if err != nil {
		t.Fatalf("States(%d): %v", instID, err)
	}
	return r
}

func steps(t *testing.T, s store.Store, execID int64) []store.StepRecord {
	t.Helper()
	r, err := s.Steps(t.Context(), execID)
	if err != nil {
		t.Fatalf("Steps(%d): %v", execID, err)
	}
	return r
}

func record(path string, st flow.Status, at time.Time) store.StepRecord {
	return store.StepRecord{
		Path:     path,
		Type:     "log",
		Status:   st,
		Attempt:  1,
		Started:  at,
		Ended:    at.Add(time.Millisecond),
		Outputs:  json.RawMessage(`{"value": {"type": "string", "value": "` + path + `"}}`),
		Assigned: json.RawMessage(`{"n": 1}`),
		Progress: json.RawMessage(`{"index": 3, "done": [0, 1, 2]}`),
		Counters: map[string]int64{"read": 10, "write": 9},
	}
}

func commit(t *testing.T, s store.Store, execID int64, e *store.Execution, recs ...store.StepRecord) {
	t.Helper()
	if err := s.Commit(t.Context(), execID, e, recs); err != nil {
		t.Fatalf("Commit(%d, %d records): %v", execID, len(recs), err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// canon is a comparable form of v: times in UTC, JSON in one spelling,
// empty maps as none.
func canon(v any) string {
	var x any
	switch v := v.(type) {
	case *store.Execution:
		if v == nil {
			return "<nil>"
		}
		c := *v
		c.Created, c.Started, c.Ended, c.Updated, c.Owner.Until = utc(c.Created), utc(c.Started), utc(c.Ended), utc(c.Updated), utc(c.Owner.Until)
		if len(c.Params) == 0 {
			c.Params = nil
		}
		c.Outputs = canonJSON(c.Outputs)
		x = c
	case store.StepRecord:
		v.Started, v.Ended = utc(v.Started), utc(v.Ended)
		v.Outputs, v.Assigned, v.Progress = canonJSON(v.Outputs), canonJSON(v.Assigned), canonJSON(v.Progress)
		if len(v.Counters) == 0 {
			v.Counters = nil
		}
		x = v
	case []store.StepRecord:
		var parts []string
		for _, r := range v {
			parts = append(parts, canon(r))
		}
		return "[\n" + strings.Join(parts, "\n") + "\n]"
	case *store.Instance:
		c := *v
		c.Created = utc(c.Created)
		x = c
	default:
		x = v
	}
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func canonJSON(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(m, &v); err != nil {
		return json.RawMessage(fmt.Sprintf("%q", "invalid JSON: "+string(m)))
	}
	b, _ := json.Marshal(v)
	return b
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := canon(got), canon(want); g != w {
		t.Fatalf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

// withID returns the records as Commit stores them for execution id.
func withID(id int64, recs ...store.StepRecord) []store.StepRecord {
	out := make([]store.StepRecord, len(recs))
	for i, r := range recs {
		r.ExecutionID = id
		out[i] = r
	}
	return out
}

func testBeginFresh(t *testing.T, s store.Store) {
	at := now()
	o := owner("a", at)
	req := request("daily", "k1", o, at)
	b := begin(t, s, req)
	if b.Previous != nil {
		t.Errorf("fresh Begin has Previous %+v", b.Previous)
	}
	in := b.Instance
	if in.ID <= 0 || in.Flow != "daily" || in.Key != "k1" || !in.Created.Equal(at) {
		t.Errorf("instance = %s", canon(in))
	}
	want := &store.Execution{
		ID: b.Execution.ID, InstanceID: in.ID, Flow: "daily", File: "daily.flow.hcl",
		Params: req.Params, Status: flow.Started, Created: at, Started: at, Updated: at, Owner: o,
	}
	if want.ID <= 0 {
		t.Errorf("execution id %d", want.ID)
	}
	same(t, "begun execution", b.Execution, want)
	same(t, "stored execution", execution(t, s, want.ID), want)
	if r := states(t, s, in.ID); len(r) != 0 {
		t.Errorf("States of a fresh instance = %s", canon(r))
	}
	if r := steps(t, s, want.ID); len(r) != 0 {
		t.Errorf("Steps of a fresh execution = %s", canon(r))
	}

	// Another key, another flow: other instances, not owned by a.
	b2 := begin(t, s, request("daily", "k2", owner("b", at), at))
	b3 := begin(t, s, request("weekly", "k1", owner("c", at), at))
	if b2.Instance.ID == in.ID || b3.Instance.ID == in.ID || b2.Instance.ID == b3.Instance.ID {
		t.Errorf("instances %d, %d, %d are not distinct", in.ID, b2.Instance.ID, b3.Instance.ID)
	}
	if b2.Execution.ID <= want.ID || b3.Execution.ID <= b2.Execution.ID {
		t.Errorf("execution ids %d, %d, %d do not grow", want.ID, b2.Execution.ID, b3.Execution.ID)
	}

	// A request with no token or no flow is refused.
	bad := request("daily", "k9", owner("d", at), at)
	bad.Owner.Token = ""
	if _, err := s.Begin(t.Context(), bad); err == nil {
		t.Error("Begin with an owner without token succeeded")
	}
	bad = request("", "k9", owner("d", at), at)
	if _, err := s.Begin(t.Context(), bad); err == nil {
		t.Error("Begin without a flow name succeeded")
	}
}

func testBeginResumes(t *testing.T, s store.Store) {
	for _, st := range []flow.Status{flow.Failed, flow.Stopped, flow.Unknown} {
		t.Run(string(st), func(t *testing.T) {
			at := now()
			key := "k-" + string(st)
			b1 := begin(t, s, request("daily", key, owner("a", at), at))
			commit(t, s, b1.Execution.ID, nil, record("main/a", flow.Completed, at))
			prev := end(t, s, b1.Execution, st, at.Add(time.Second))

			o2 := owner("b", at)
			req := request("daily", key, o2, at.Add(2*time.Second))
			req.File = "moved/daily.flow.hcl"
			b2 := begin(t, s, req)
			if b2.Instance.ID != b1.Instance.ID {
				t.Fatalf("resumed in instance %d, want %d", b2.Instance.ID, b1.Instance.ID)
			}
			same(t, "Previous", b2.Previous, prev)
			e := b2.Execution
			if e.ID <= b1.Execution.ID || e.ResumedFrom != b1.Execution.ID || e.Status != flow.Started ||
				e.Owner.Token != o2.Token || e.File != req.File || !e.Started.Equal(req.Now) {
				t.Fatalf("resumed execution = %s", canon(e))
			}
			same(t, "stored", execution(t, s, e.ID), e)
			same(t, "states", states(t, s, b1.Instance.ID), withID(b1.Execution.ID, record("main/a", flow.Completed, at)))
		})
	}
}

func testCompleted(t *testing.T, s store.Store) {
	at := now()
	b1 := begin(t, s, request("daily", "k", owner("a", at), at))
	end(t, s, b1.Execution, flow.Completed, at)
	_, err := s.Begin(t.Context(), request("daily", "k", owner("b", at), at))
	wantErr(t, "Begin after COMPLETED", err, store.ErrCompleted)
	if h, _ := s.History(t.Context(), store.Filter{}); len(h) != 1 {
		t.Fatalf("a refused Begin left %d executions, want 1", len(h))
	}

	req := request("daily", "k", owner("c", at), at)
	req.Rerun = true
	b2 := begin(t, s, req)
	if b2.Instance.ID == b1.Instance.ID || b2.Previous != nil || b2.Execution.ResumedFrom != 0 {
		t.Fatalf("Rerun: instance %d (was %d), previous %v", b2.Instance.ID, b1.Instance.ID, b2.Previous)
	}
	if b2.Instance.Key != "k" || b2.Instance.Flow != "daily" {
		t.Fatalf("Rerun instance = %s", canon(b2.Instance))
	}
	end(t, s, b2.Execution, flow.Completed, at)
	_, err = s.Begin(t.Context(), request("daily", "k", owner("d", at), at))
	wantErr(t, "Begin after the rerun COMPLETED", err, store.ErrCompleted)
}

func testRerun(t *testing.T, s store.Store) {
	at := now()
	b1 := begin(t, s, request("daily", "k", owner("a", at), at))
	commit(t, s, b1.Execution.ID, nil, record("main/a", flow.Completed, at))
	end(t, s, b1.Execution, flow.Failed, at)

	// Rerun starts afresh even when the instance could be resumed.
	req := request("daily", "k", owner("b", at), at)
	req.Rerun = true
	b2 := begin(t, s, req)
	if b2.Instance.ID == b1.Instance.ID || b2.Previous != nil {
		t.Fatalf("Rerun after FAILED: instance %d (was %d), previous %v", b2.Instance.ID, b1.Instance.ID, b2.Previous)
	}
	if r := states(t, s, b2.Instance.ID); len(r) != 0 {
		t.Fatalf("a rerun instance has states %s", canon(r))
	}
	// The next Begin finds the new instance.
	end(t, s, b2.Execution, flow.Failed, at)
	b3 := begin(t, s, request("daily", "k", owner("c", at), at))
	if b3.Instance.ID != b2.Instance.ID || b3.Previous == nil || b3.Previous.ID != b2.Execution.ID {
		t.Fatalf("Begin after a rerun: instance %d, want %d", b3.Instance.ID, b2.Instance.ID)
	}
}

// thisProcess returns o as an owner in this process.
func thisProcess(o store.Owner) store.Owner {
	o.Host, _ = os.Hostname()
	o.PID = os.Getpid()
	return o
}

func testLiveOwner(t *testing.T, s store.Store) {
	tests := []struct {
		name  string
		owner func(at time.Time) store.Owner
		alive func(store.Owner) bool
		rerun bool
	}{
		{"alive", func(at time.Time) store.Owner { return owner("a", at) }, alive, false},
		{"alive rerun", func(at time.Time) store.Owner { return owner("a", at) }, alive, true},
		{"this process, lease running", func(at time.Time) store.Owner { return thisProcess(owner("a", at)) }, nil, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := now()
			key := fmt.Sprint("k", i)
			o := tc.owner(at)
			b1 := begin(t, s, request("daily", key, o, at))
			for range 2 {
				req := request("daily", key, owner("b", at), at.Add(time.Second))
				req.Alive, req.Rerun = tc.alive, tc.rerun
				var seen []store.Owner
				if tc.alive != nil {
					req.Alive = func(o store.Owner) bool { seen = append(seen, o); return tc.alive(o) }
				}
				_, err := s.Begin(t.Context(), req)
				wantErr(t, "Begin of an owned instance", err, store.ErrOwned)
				if tc.alive != nil && (len(seen) != 1 || seen[0].Token != o.Token || seen[0].PID != o.PID || seen[0].Host != o.Host) {
					t.Fatalf("Alive called with %+v, want once with %+v", seen, o)
				}
			}
			_, err := s.Resume(t.Context(), b1.Execution.ID, owner("c", at), tc.alive, at)
			wantErr(t, "Resume of an owned execution", err, store.ErrOwned)
			same(t, "owned execution", execution(t, s, b1.Execution.ID), b1.Execution)
			if h, _ := s.History(t.Context(), store.Filter{Flow: "daily"}); len(h) != i+1 {
				t.Fatalf("refused Begins left %d executions, want %d", len(h), i+1)
			}
		})
	}
}

func testDeadOwner(t *testing.T, s store.Store) {
	tests := []struct {
		name  string
		lease time.Duration
		alive func(store.Owner) bool
	}{
		{"alive says dead", time.Hour, dead},
		{"lease ended", -time.Minute, nil},
		{"lease ended though alive says yes", -time.Minute, alive},
		{"lease ends at Begin", time.Second, alive},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := now()
			key := fmt.Sprint("k", i)
			o := owner("a", at)
			o.Until = at.Add(tc.lease)
			b1 := begin(t, s, request("daily", key, o, at))
			commit(t, s, b1.Execution.ID, nil, record("main/a", flow.Completed, at), record("main/b", flow.Started, at))

			later := at.Add(time.Second)
			req := request("daily", key, owner("b", at), later)
			req.Alive = tc.alive
			b2 := begin(t, s, req)
			p := b2.Previous
			if p == nil || p.ID != b1.Execution.ID || p.Status != flow.Failed || !p.Ended.Equal(later) ||
				!strings.Contains(p.Error, "died or lost its lease") || !strings.Contains(p.Error, o.String()) {
				t.Fatalf("Previous = %s", canon(p))
			}
			same(t, "stored previous", execution(t, s, p.ID), p)
			if b2.Instance.ID != b1.Instance.ID || b2.Execution.ResumedFrom != p.ID {
				t.Fatalf("resumed execution = %s", canon(b2.Execution))
			}
			if r := states(t, s, b1.Instance.ID); len(r) != 2 {
				t.Fatalf("states after takeover = %s", canon(r))
			}

			// The old owner has lost the execution.
			old := *b1.Execution
			old.Status = flow.Completed
			err := s.Commit(t.Context(), old.ID, &old, []store.StepRecord{record("main/c", flow.Completed, at)})
			wantErr(t, "Commit by the old owner", err, store.ErrLeaseLost)
			err = s.Commit(t.Context(), old.ID, nil, []store.StepRecord{record("main/c", flow.Completed, at)})
			wantErr(t, "Commit of steps by the old owner", err, store.ErrLeaseLost)
			_, err = s.Heartbeat(t.Context(), old.ID, o.Token, later.Add(time.Hour))
			wantErr(t, "Heartbeat by the old owner", err, store.ErrLeaseLost)
			same(t, "taken over execution", execution(t, s, p.ID), p)
			if r := steps(t, s, old.ID); len(r) != 2 {
				t.Fatalf("the old owner's steps after its refused commits = %s", canon(r))
			}
		})
	}
}

func testResume(t *testing.T, s store.Store) {
	at := now()
	req := request("daily", "k", owner("a", at), at)
	b1 := begin(t, s, req)
	end(t, s, b1.Execution, flow.Failed, at)

	o := owner("b", at)
	b2, err := s.Resume(t.Context(), b1.Execution.ID, o, alive, at.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	e := b2.Execution
	if b2.Previous == nil || b2.Previous.ID != b1.Execution.ID || b2.Instance.ID != b1.Instance.ID ||
		e.ResumedFrom != b1.Execution.ID || e.Status != flow.Started || e.Owner.Token != o.Token ||
		e.Flow != "daily" || e.File != req.File || canon(e.Params) != canon(req.Params) {
		t.Fatalf("Resume = %s, previous %s", canon(e), canon(b2.Previous))
	}
	same(t, "stored", execution(t, s, e.ID), e)

	// Resuming the first execution again carries on from the latest one:
	// it is owned, then dead, then failed.
	_, err = s.Resume(t.Context(), b1.Execution.ID, owner("c", at), alive, at.Add(2*time.Second))
	wantErr(t, "Resume while a later execution runs", err, store.ErrOwned)
	b3, err := s.Resume(t.Context(), b1.Execution.ID, owner("c", at), dead, at.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if b3.Previous == nil || b3.Previous.ID != e.ID || b3.Previous.Status != flow.Failed {
		t.Fatalf("Resume after a dead owner: previous %s", canon(b3.Previous))
	}
	end(t, s, b3.Execution, flow.Completed, at.Add(3*time.Second))
	_, err = s.Resume(t.Context(), b1.Execution.ID, owner("d", at), alive, at.Add(4*time.Second))
	wantErr(t, "Resume of a completed instance", err, store.ErrCompleted)
	_, err = s.Resume(t.Context(), b3.Execution.ID, owner("d", at), alive, at.Add(4*time.Second))
	wantErr(t, "Resume of a completed execution", err, store.ErrCompleted)
}

func testAbandon(t *testing.T, s store.Store) {
	at := now()
	b1 := begin(t, s, request("daily", "k", thisProcess(owner("a", at)), at))
	commit(t, s, b1.Execution.ID, nil, record("main/a", flow.Completed, at))

	err := s.Abandon(t.Context(), b1.Execution.ID)
	wantErr(t, "Abandon of a live execution", err, store.ErrOwned)
	end(t, s, b1.Execution, flow.Stopped, at)
	if err := s.Abandon(t.Context(), b1.Execution.ID); err != nil {
		t.Fatalf("Abandon: %v", err)
	}
	if err := s.Abandon(t.Context(), b1.Execution.ID); err != nil {
		t.Fatalf("Abandon again: %v", err)
	}
	e := execution(t, s, b1.Execution.ID)
	if e.Status != flow.Abandoned || e.Ended.IsZero() {
		t.Fatalf("abandoned execution = %s", canon(e))
	}
	_, err = s.Resume(t.Context(), e.ID, owner("b", at), alive, at)
	wantErr(t, "Resume of an abandoned execution", err, store.ErrAbandoned)

	// The instance starts afresh: a new instance, without states.
	b2 := begin(t, s, request("daily", "k", owner("b", at), at))
	if b2.Previous != nil || b2.Instance.ID == b1.Instance.ID || b2.Execution.ResumedFrom != 0 {
		t.Fatalf("Begin after Abandon: instance %d (was %d), previous %s", b2.Instance.ID, b1.Instance.ID, canon(b2.Previous))
	}
	if r := states(t, s, b2.Instance.ID); len(r) != 0 {
		t.Fatalf("states after Abandon = %s", canon(r))
	}
	if r := states(t, s, b1.Instance.ID); len(r) != 1 {
		t.Fatalf("the abandoned instance's states = %s", canon(r))
	}

	// A completed execution cannot be abandoned; a live one whose lease
	// ended can.
	end(t, s, b2.Execution, flow.Completed, at)
	wantErr(t, "Abandon of a completed execution", s.Abandon(t.Context(), b2.Execution.ID), store.ErrCompleted)
	o := owner("c", at)
	o.Until = at.Add(-time.Minute)
	b3 := begin(t, s, request("daily", "other", o, at))
	if err := s.Abandon(t.Context(), b3.Execution.ID); err != nil {
		t.Fatalf("Abandon of an execution whose lease ended: %v", err)
	}
	if e := execution(t, s, b3.Execution.ID); e.Status != flow.Abandoned || e.Ended.IsZero() {
		t.Fatalf("abandoned execution = %s", canon(e))
	}
}

func testCommit(t *testing.T, s store.Store) {
	at := now()
	o := owner("a", at)
	b := begin(t, s, request("daily", "k", o, at))
	id := b.Execution.ID

	e := *b.Execution
	e.Status = flow.Completed
	e.ExitStatus = "NOOP"
	e.Ended = at.Add(time.Minute)
	e.Updated = at.Add(time.Minute)
	e.Outputs = json.RawMessage(`{"total": {"type": "number", "value": 42}}`)
	e.Owner.Until = at.Add(2 * time.Hour)
	want := e
	// Fields a commit cannot change.
	e.ID, e.InstanceID, e.Flow, e.Created, e.ResumedFrom = 0, 9999, "other", at.Add(time.Hour), 77
	recs := []store.StepRecord{record("main/a", flow.Completed, at), record("main/b", flow.Completed, at), record("main", flow.Completed, at)}
	recs[2].Type, recs[2].Outputs, recs[2].Assigned, recs[2].Progress, recs[2].Counters = "sequential", nil, nil, nil, nil
	recs[1].ExecutionID = 12345 // the store sets it
	commit(t, s, id, &e, recs...)

	same(t, "execution", execution(t, s, id), &want)
	sorted := []store.StepRecord{recs[2], recs[0], recs[1]}
	same(t, "steps", steps(t, s, id), withID(id, sorted...))
	same(t, "states", states(t, s, b.Instance.ID), withID(id, sorted...))

	// A record replaces the one of its path.
	b2 := begin(t, s, request("daily", "k2", owner("b", at), at))
	r1 := record("main/x", flow.Started, at)
	commit(t, s, b2.Execution.ID, nil, r1)
	second := func() store.StepRecord {
		r := record("main/x", flow.Completed, at)
		r.Attempt, r.Outputs = 2, json.RawMessage(`{"v": 2}`)
		return r
	}
	r2 := second()
	commit(t, s, b2.Execution.ID, nil, r2)
	same(t, "replaced steps", steps(t, s, b2.Execution.ID), withID(b2.Execution.ID, second()))
	same(t, "replaced states", states(t, s, b2.Instance.ID), withID(b2.Execution.ID, second()))
	// Committing nothing is fine.
	commit(t, s, b2.Execution.ID, nil)
	// Records the caller keeps are not the store's, nor those it gets.
	r2.Counters["read"] = -1
	r2.Outputs[1] = 'X'
	got := steps(t, s, b2.Execution.ID)
	got[0].Counters["read"] = -2
	got[0].Outputs[1] = 'Y'
	same(t, "steps after the caller changed its copies", steps(t, s, b2.Execution.ID), withID(b2.Execution.ID, second()))
}

func testCommitAtomic(t *testing.T, s store.Store) {
	at := now()
	b := begin(t, s, request("daily", "k", owner("a", at), at))
	id := b.Execution.ID
	commit(t, s, id, nil, record("main/a", flow.Started, at))

	// The last record cannot be stored: nothing of the commit is.
	e := *b.Execution
	e.Status = flow.Completed
	e.Ended = at
	bad := record("main/z", flow.Completed, at)
	bad.Outputs = json.RawMessage(`{"broken": `)
	err := s.Commit(t.Context(), id, &e, []store.StepRecord{record("main/a", flow.Completed, at), record("main/b", flow.Completed, at), bad})
	if err == nil {
		t.Fatal("Commit of a record with invalid JSON outputs succeeded")
	}
	same(t, "execution after a failed commit", execution(t, s, id), b.Execution)
	same(t, "steps after a failed commit", steps(t, s, id), withID(id, record("main/a", flow.Started, at)))
	same(t, "states after a failed commit", states(t, s, b.Instance.ID), withID(id, record("main/a", flow.Started, at)))

	noPath := record("", flow.Completed, at)
	if err := s.Commit(t.Context(), id, &e, []store.StepRecord{noPath}); err == nil {
		t.Fatal("Commit of a record without path succeeded")
	}
	same(t, "execution after a commit without path", execution(t, s, id), b.Execution)
}

func testCommitLeaseLost(t *testing.T, s store.Store) {
	at := now()
	b := begin(t, s, request("daily", "k", owner("a", at), at))
	id := b.Execution.ID
	commit(t, s, id, nil, record("main/a", flow.Started, at))

	e := *b.Execution
	e.Owner = owner("intruder", at)
	e.Status = flow.Completed
	err := s.Commit(t.Context(), id, &e, []store.StepRecord{record("main/a", flow.Completed, at), record("main/b", flow.Completed, at)})
	wantErr(t, "Commit with another token", err, store.ErrLeaseLost)
	same(t, "execution", execution(t, s, id), b.Execution)
	same(t, "steps", steps(t, s, id), withID(id, record("main/a", flow.Started, at)))
	same(t, "states", states(t, s, b.Instance.ID), withID(id, record("main/a", flow.Started, at)))

	// Once ended, an execution takes no more records.
	end(t, s, b.Execution, flow.Failed, at)
	err = s.Commit(t.Context(), id, nil, []store.StepRecord{record("main/b", flow.Completed, at)})
	wantErr(t, "Commit after the end", err, store.ErrLeaseLost)
	same(t, "steps", steps(t, s, id), withID(id, record("main/a", flow.Started, at)))
}

func testStates(t *testing.T, s store.Store) {
	at := now()
	b1 := begin(t, s, request("daily", "k", owner("a", at), at))
	id1 := b1.Execution.ID
	a1, b1r, c1 := record("main/a", flow.Completed, at), record("main/b", flow.Failed, at), record("main/c[0]", flow.Started, at)
	b1r.ErrorKind, b1r.Error = "failed", "exit status 1"
	commit(t, s, id1, nil, record("main/a", flow.Started, at))
	commit(t, s, id1, nil, a1, b1r, c1)
	end(t, s, b1.Execution, flow.Failed, at)

	b2 := begin(t, s, request("daily", "k", owner("b", at), at.Add(time.Second)))
	id2 := b2.Execution.ID
	b2r, d2 := record("main/b", flow.Completed, at.Add(time.Second)), record("main/d#2/x", flow.Completed, at)
	b2r.Attempt = 2
	commit(t, s, id2, nil, b2r, d2)

	want := append(withID(id1, a1), withID(id2, b2r)...)
	want = append(want, withID(id1, c1)...)
	want = append(want, withID(id2, d2)...)
	same(t, "states", states(t, s, b1.Instance.ID), want)
	same(t, "steps of the first execution", steps(t, s, id1), withID(id1, a1, b1r, c1))
	same(t, "steps of the second execution", steps(t, s, id2), withID(id2, b2r, d2))

	// Another instance's states are its own.
	b3 := begin(t, s, request("daily", "other", owner("c", at), at))
	commit(t, s, b3.Execution.ID, nil, record("main/a", flow.Failed, at))
	same(t, "states of the first instance", states(t, s, b1.Instance.ID), want)
}

func testHistory(t *testing.T, s store.Store) {
	at := now()
	type run struct {
		flow string
		st   flow.Status
	}
	runs := []run{
		{"a", flow.Completed}, {"b", flow.Failed}, {"a", flow.Failed}, {"c", flow.Stopped},
		{"b", flow.Completed}, {"a", flow.Started}, {"b", flow.Failed},
	}
	var ids []int64 // ascending
	for i, r := range runs {
		b := begin(t, s, request(r.flow, fmt.Sprint("k", i), owner("o", at), at.Add(time.Duration(i)*time.Second)))
		if r.st != flow.Started {
			end(t, s, b.Execution, r.st, at.Add(time.Duration(i)*time.Second))
		}
		ids = append(ids, b.Execution.ID)
	}
	pick := func(keep func(run) bool, limit int) []int64 {
		var out []int64
		for i := len(runs) - 1; i >= 0; i-- {
			if keep(runs[i]) && (limit == 0 || len(out) < limit) {
				out = append(out, ids[i])
			}
		}
		return out
	}
	all := func(run) bool { return true }
	tests := []struct {
		f    store.Filter
		want []int64
	}{
		{store.Filter{}, pick(all, 0)},
		{store.Filter{Limit: 3}, pick(all, 3)},
		{store.Filter{Limit: 100}, pick(all, 0)},
		{store.Filter{Flow: "a"}, pick(func(r run) bool { return r.flow == "a" }, 0)},
		{store.Filter{Flow: "b", Limit: 2}, pick(func(r run) bool { return r.flow == "b" }, 2)},
		{store.Filter{Status: flow.Failed}, pick(func(r run) bool { return r.st == flow.Failed }, 0)},
		{store.Filter{Status: flow.Started}, pick(func(r run) bool { return r.st == flow.Started }, 0)},
		{store.Filter{Flow: "b", Status: flow.Completed, Limit: 1}, pick(func(r run) bool { return r.flow == "b" && r.st == flow.Completed }, 1)},
		{store.Filter{Flow: "nope"}, nil},
		{store.Filter{Flow: "c", Status: flow.Failed}, nil},
	}
	for _, tc := range tests {
		h, err := s.History(t.Context(), tc.f)
		if err != nil {
			t.Fatalf("History(%+v): %v", tc.f, err)
		}
		var got []int64
		for _, e := range h {
			got = append(got, e.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("History(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
	h, _ := s.History(t.Context(), store.Filter{Limit: 1})
	same(t, "History's record", h[0], execution(t, s, ids[len(ids)-1]))
}

func testHeartbeatAndStop(t *testing.T, s store.Store) {
	at := now()
	o := owner("a", at)
	b := begin(t, s, request("daily", "k", o, at))
	id := b.Execution.ID

	until := at.Add(3 * time.Hour)
	stop, err := s.Heartbeat(t.Context(), id, o.Token, until)
	if err != nil || stop {
		t.Fatalf("Heartbeat = %v, %v; want false, nil", stop, err)
	}
	if e := execution(t, s, id); !e.Owner.Until.Equal(until) {
		t.Fatalf("lease until %v after Heartbeat, want %v", e.Owner.Until, until)
	}
	_, err = s.Heartbeat(t.Context(), id, "other", at.Add(4*time.Hour))
	wantErr(t, "Heartbeat with another token", err, store.ErrLeaseLost)
	if e := execution(t, s, id); !e.Owner.Until.Equal(until) {
		t.Fatalf("a refused Heartbeat moved the lease to %v", e.Owner.Until)
	}

	if err := s.RequestStop(t.Context(), id); err != nil {
		t.Fatalf("RequestStop: %v", err)
	}
	e := execution(t, s, id)
	if e.Status != flow.Stopping || !e.StopRequested {
		t.Fatalf("after RequestStop: %s", canon(e))
	}
	if err := s.RequestStop(t.Context(), id); err != nil {
		t.Fatalf("RequestStop again: %v", err)
	}
	stop, err = s.Heartbeat(t.Context(), id, o.Token, until)
	if err != nil || !stop {
		t.Fatalf("Heartbeat after RequestStop = %v, %v; want true, nil", stop, err)
	}
	// The owner, unaware, commits STARTED: the stop request stays.
	c := *b.Execution
	c.Updated = at.Add(time.Second)
	commit(t, s, id, &c, record("main/a", flow.Completed, at))
	if e := execution(t, s, id); e.Status != flow.Stopping || !e.StopRequested {
		t.Fatalf("a commit lost the stop request: %s", canon(e))
	}
	end(t, s, &c, flow.Stopped, at.Add(time.Minute))
	if e := execution(t, s, id); e.Status != flow.Stopped || !e.StopRequested {
		t.Fatalf("stopped execution = %s", canon(e))
	}

	wantErr(t, "RequestStop of a stopped execution", s.RequestStop(t.Context(), id), store.ErrNotLive)
	_, err = s.Heartbeat(t.Context(), id, o.Token, until)
	wantErr(t, "Heartbeat of a stopped execution", err, store.ErrLeaseLost)
	b2 := begin(t, s, request("daily", "k2", owner("b", at), at))
	end(t, s, b2.Execution, flow.Completed, at)
	wantErr(t, "RequestStop of a completed execution", s.RequestStop(t.Context(), b2.Execution.ID), store.ErrNotLive)
}

func testPrune(t *testing.T, s store.Store) {
	at := now()
	old, cut := at.Add(-72*time.Hour), at.Add(-24*time.Hour)

	// x: an old failed execution, resumed by a live one.
	x1 := begin(t, s, request("daily", "x", owner("a", old), old))
	commit(t, s, x1.Execution.ID, nil, record("main/a", flow.Completed, old))
	end(t, s, x1.Execution, flow.Failed, old)
	x2 := begin(t, s, request("daily", "x", owner("b", at), old.Add(time.Hour)))
	// y: only old executions.
	y1 := begin(t, s, request("daily", "y", owner("c", old), old))
	commit(t, s, y1.Execution.ID, nil, record("main/a", flow.Completed, old))
	end(t, s, y1.Execution, flow.Completed, old)
	// z: ended after the cut.
	z1 := begin(t, s, request("daily", "z", owner("d", old), old))
	end(t, s, z1.Execution, flow.Failed, at)
	// w: ended exactly at the cut: kept.
	w1 := begin(t, s, request("daily", "w", owner("e", old), old))
	end(t, s, w1.Execution, flow.Completed, cut)

	n, err := s.Prune(t.Context(), cut)
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want 2, nil", n, err)
	}
	for _, id := range []int64{x1.Execution.ID, y1.Execution.ID} {
		_, err := s.Execution(t.Context(), id)
		wantErr(t, fmt.Sprint("pruned execution ", id), err, store.ErrNotFound)
		_, err = s.Steps(t.Context(), id)
		wantErr(t, fmt.Sprint("steps of pruned execution ", id), err, store.ErrNotFound)
	}
	for _, id := range []int64{x2.Execution.ID, z1.Execution.ID, w1.Execution.ID} {
		execution(t, s, id)
	}
	// x keeps its instance and states; y's went.
	same(t, "states of x", states(t, s, x1.Instance.ID), withID(x1.Execution.ID, record("main/a", flow.Completed, old)))
	_, err = s.States(t.Context(), y1.Instance.ID)
	wantErr(t, "states of a pruned instance", err, store.ErrNotFound)
	if h, _ := s.History(t.Context(), store.Filter{}); len(h) != 3 {
		t.Fatalf("History after Prune has %d executions, want 3", len(h))
	}
	// y starts afresh; x is still owned.
	y2 := begin(t, s, request("daily", "y", owner("f", at), at))
	if y2.Previous != nil || y2.Instance.ID == y1.Instance.ID {
		t.Fatalf("Begin of a pruned instance: %+v", y2)
	}
	_, err = s.Begin(t.Context(), request("daily", "x", owner("g", at), at))
	wantErr(t, "Begin of x", err, store.ErrOwned)

	if n, err := s.Prune(t.Context(), cut); err != nil || n != 0 {
		t.Fatalf("second Prune = %d, %v; want 0, nil", n, err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	at := now()
	b := begin(t, s, request("daily", "k", owner("a", at), at))
	const id = 1 << 40
	ctx := t.Context()
	_, err := s.Execution(ctx, id)
	wantErr(t, "Execution", err, store.ErrNotFound)
	_, err = s.Steps(ctx, id)
	wantErr(t, "Steps", err, store.ErrNotFound)
	_, err = s.States(ctx, id)
	wantErr(t, "States", err, store.ErrNotFound)
	wantErr(t, "Commit", s.Commit(ctx, id, nil, []store.StepRecord{record("main/a", flow.Completed, at)}), store.ErrNotFound)
	wantErr(t, "Commit with execution", s.Commit(ctx, id, b.Execution, nil), store.ErrNotFound)
	_, err = s.Heartbeat(ctx, id, "x", at)
	wantErr(t, "Heartbeat", err, store.ErrNotFound)
	wantErr(t, "RequestStop", s.RequestStop(ctx, id), store.ErrNotFound)
	wantErr(t, "Abandon", s.Abandon(ctx, id), store.ErrNotFound)
	_, err = s.Resume(ctx, id, owner("b", at), alive, at)
	wantErr(t, "Resume", err, store.ErrNotFound)
}

func testConcurrentBegin(t *testing.T, s store.Store) {
	const n = 8
	race := func(t *testing.T, key string, at time.Time) *store.Begun {
		t.Helper()
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			won    []*store.Begun
			errs   []error
			starts = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				<-starts
				b, err := s.Begin(context.Background(), request("daily", key, owner(fmt.Sprint("g", i), at), at))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else {
					won = append(won, b)
				}
			})
		}
		close(starts)
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("%d of %d concurrent Begins succeeded, want 1 (errors: %v)", len(won), n, errs)
		}
		for _, err := range errs {
			wantErr(t, "a losing Begin", err, store.ErrOwned)
		}
		return won[0]
	}
	at := now()
	b1 := race(t, "fresh", at)
	if b1.Previous != nil {
		t.Fatalf("fresh race: previous %v", b1.Previous)
	}
	end(t, s, b1.Execution, flow.Failed, at)
	b2 := race(t, "fresh", at.Add(time.Second))
	if b2.Previous == nil || b2.Previous.ID != b1.Execution.ID || b2.Instance.ID != b1.Instance.ID {
		t.Fatalf("resuming race: %s resumed %s", canon(b2.Execution), canon(b2.Previous))
	}
	if h, _ := s.History(t.Context(), store.Filter{}); len(h) != 2 {
		t.Fatalf("%d executions after the races, want 2", len(h))
	}
}

func testLargeCommit(t *testing.T, s store.Store) {
	at := now()
	b := begin(t, s, request("daily", "k", owner("a", at), at))
	const n = 1000
	recs := make([]store.StepRecord, n)
	for i := range recs {
		recs[i] = record(fmt.Sprintf("main/loop#%04d/step", i), flow.Completed, at)
		recs[i].Progress = json.RawMessage(fmt.Sprintf(`{"index": %d, "pad": %q}`, i, strings.Repeat("x", 200)))
	}
	e := *b.Execution
	e.Updated = at.Add(time.Second)
	commit(t, s, e.ID, &e, recs...)
	same(t, "steps", steps(t, s, e.ID), withID(e.ID, recs...))
	same(t, "states", states(t, s, b.Instance.ID), withID(e.ID, recs...))
}

func testTimestamps(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	at := time.Date(2026, 11, 20, 23, 59, 58, 123456000, zone)
	o := owner("a", at)
	o.Until = time.Now().Add(time.Hour).In(zone).Truncate(time.Microsecond)
	req := request("daily", "k", o, at)
	b := begin(t, s, req)
	e := execution(t, s, b.Execution.ID)
	for name, pair := range map[string][2]time.Time{
		"created": {e.Created, at}, "started": {e.Started, at}, "updated": {e.Updated, at}, "until": {e.Owner.Until, o.Until},
		"instance created": {b.Instance.Created, at},
	} {
		if !pair[0].Equal(pair[1]) {
			t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
		}
	}
	if !e.Ended.IsZero() {
		t.Errorf("ended = %v, want zero", e.Ended)
	}
	r := record("main/a", flow.Completed, at.Add(time.Microsecond))
	r.Ended = time.Date(2030, 1, 2, 3, 4, 5, 999999000, time.UTC)
	open := record("main/b", flow.Started, at)
	open.Ended = time.Time{}
	commit(t, s, e.ID, nil, r, open)
	got := steps(t, s, e.ID)
	if len(got) != 2 || !got[0].Started.Equal(r.Started) || !got[0].Ended.Equal(r.Ended) || !got[1].Ended.IsZero() {
		t.Fatalf("step times = %s", canon(got))
	}
	end(t, s, e, flow.Completed, r.Ended)
	if e := execution(t, s, e.ID); !e.Ended.Equal(r.Ended) {
		t.Fatalf("ended = %v, want %v", e.Ended, r.Ended)
	}
}
