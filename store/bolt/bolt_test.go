package bolt_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/store"
	"github.com/flowbatch/flow/store/bolt"
	"github.com/flowbatch/flow/store/storetest"
)

// helperEnv makes the test binary, run again as a child, hold a store
// open: see TestMain.
const helperEnv = "FLOW_BOLT_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(hold(path))
	}
	os.Exit(m.Run())
}

// hold opens the store, says "ready" and keeps it open until stdin ends.
func hold(path string) int {
	s, err := bolt.Open(path, nil)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := s.Close(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

func open(t testing.TB, path string, opts *bolt.Options) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "flow.db"), nil)
	})
}

func TestOpenCreatesDirAndOwnerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "flow.db")
	s, err := bolt.Open(path, &bolt.Options{Args: []string{"flow", "exec", "x.flow.hcl"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	b, err := os.ReadFile(path + ".owner")
	if err != nil {
		t.Fatal(err)
	}
	var info bolt.OwnerInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if info.PID != os.Getpid() || info.Host != host || info.Since.IsZero() || strings.Join(info.Args, " ") != "flow exec x.flow.hcl" {
		t.Errorf("owner file = %s", b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(path + ".owner"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("owner file after Close: %v", err)
	}
}

func TestSecondOpenInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flow.db")
	open(t, path, nil)
	_, err := bolt.Open(path, &bolt.Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, bolt.ErrInUse) {
		t.Fatalf("second Open: %v, want ErrInUse", err)
	}
	want := fmt.Sprintf("store %s is in use by pid %d on host ", path, os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestSecondProcess opens a store that a child process holds.
func TestSecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flow.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}

	start := time.Now()
	_, err = bolt.Open(path, nil)
	took := time.Since(start)
	if !errors.Is(err, bolt.ErrInUse) {
		t.Fatalf("Open of a store held by pid %d: %v, want ErrInUse", cmd.Process.Pid, err)
	}
	for _, want := range []string{path, fmt.Sprintf("pid %d", cmd.Process.Pid), "-test.run=^$", " since "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if took > 10*time.Second {
		t.Errorf("Open took %s to give up", took)
	}
	t.Log(err)

	// Once the child lets go, the store opens.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	s := open(t, path, nil)
	if _, err := s.History(t.Context(), store.Filter{}); err != nil {
		t.Fatal(err)
	}
}

func TestNotAStore(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bbolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("something"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	tests := []struct {
		name    string
		content []byte // nil: the foreign bbolt file
		want    string
	}{
		{"text", []byte("hello, world\n"), "not a bbolt database"},
		{"junk", junk, "not a bbolt database"},
		{"foreign bbolt", nil, "a bbolt database of something else"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := foreign
			if tc.content != nil {
				path = filepath.Join(dir, tc.name+".db")
				if err := os.WriteFile(path, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := bolt.Open(path, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, want := range []string{path + " is not a flow store", tc.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if tc.content != nil {
				b, _ := os.ReadFile(path)
				if string(b) != string(tc.content) {
					t.Error("Open changed the file")
				}
			}
			if _, err := os.Stat(path + ".owner"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("owner file left after a failed Open: %v", err)
			}
		})
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flow.db")
	s, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 0, 0, 0, 0, bolt.SchemaVersion + 1})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = bolt.Open(path, nil)
	want := fmt.Sprintf("store %s has schema version %d, newer than this flow knows (%d)", path, bolt.SchemaVersion+1, bolt.SchemaVersion)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open of a newer schema: %v, want %q", err, want)
	}
}

// TestReopenAfterCrash: an execution left STARTED by a process that is
// gone is taken over when the store is opened again, without Alive.
func TestReopenAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flow.db")
	now := time.Now()
	s, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	crashed := store.Owner{Host: "elsewhere", PID: 4242, Token: "t1", Until: now.Add(time.Hour)}
	b, err := s.Begin(t.Context(), store.BeginRequest{Flow: "f", Key: "k", Owner: crashed, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	rec := store.StepRecord{Path: "main/a", Status: flow.Completed, Outputs: json.RawMessage(`{"x":1}`)}
	if err := s.Commit(t.Context(), b.Execution.ID, nil, []store.StepRecord{rec}); err != nil {
		t.Fatal(err)
	}
	s.Close() // as a crash leaves it: STARTED

	s = open(t, path, nil)
	host, _ := os.Hostname()
	me := store.Owner{Host: host, PID: os.Getpid(), Token: "t2", Until: now.Add(time.Hour)}
	b2, err := s.Begin(t.Context(), store.BeginRequest{Flow: "f", Key: "k", Owner: me, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if b2.Previous == nil || b2.Previous.ID != b.Execution.ID || b2.Previous.Status != flow.Failed {
		t.Fatalf("Begin after a crash: previous %+v", b2.Previous)
	}
	st, err := s.States(t.Context(), b2.Instance.ID)
	if err != nil || len(st) != 1 || string(st[0].Outputs) != `{"x":1}` {
		t.Fatalf("states after a crash: %+v, %v", st, err)
	}
	// This process's own live execution is not taken over.
	_, err = s.Begin(t.Context(), store.BeginRequest{Flow: "f", Key: "k", Owner: store.Owner{Token: "t3"}, Now: now})
	if !errors.Is(err, store.ErrOwned) {
		t.Fatalf("Begin while this process runs the instance: %v, want ErrOwned", err)
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		for _, n := range []int{1, 100} {
			b.Run(fmt.Sprintf("records=%d/nosync=%v", n, noSync), func(b *testing.B) {
				s := open(b, filepath.Join(b.TempDir(), "flow.db"), &bolt.Options{NoSync: noSync})
				storetest.BenchmarkCommit(b, s, n)
			})
		}
	}
}
