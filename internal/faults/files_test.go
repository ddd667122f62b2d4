package faults_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fileFlow copies in.csv to out/out.csv and out/out.jsonl, 500 records a
// chunk.
const fileFlow = `flow "files" {
  batch "copy" {
    chunk_size = 500
    reader "csv" {
      path   = "in.csv"
      schema = { id = "int", amount = "decimal" }
    }
    writer "csv" { path = "out/out.csv" }
    writer "jsonl" "all" { path = "out/out.jsonl" }
  }
  output "written" { value = step.copy.write_count }
}
`

// reference runs fileFlow without a store in a directory of its own and
// returns its outputs.
func reference(t *testing.T, in string) (csv, jsonl []byte) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"in.csv": in, "files.flow.hcl": fileFlow})
	wantCompleted(t, flowRun(t, dir, "", time.Minute, "exec", "--no-store", "files.flow.hcl"))
	return readFile(t, dir, "out/out.csv"), readFile(t, dir, "out/out.jsonl")
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantCommittedPrefix asserts that a failed run's output is a prefix of
// the reference made of whole lines: what was committed, nothing torn.
func wantCommittedPrefix(t *testing.T, name string, got, ref []byte) {
	t.Helper()
	if !bytes.HasPrefix(ref, got) {
		t.Errorf("%s (%d bytes) is not a prefix of the uninterrupted output", name, len(got))
	}
	if len(got) > 0 && got[len(got)-1] != '\n' {
		t.Errorf("%s ends in the middle of a record: %q", name, got[max(0, len(got)-40):])
	}
}

// The output is /dev/full: every write fails with ENOSPC. The step fails
// with that message and the file's name; once the output is a file again,
// running the flow again completes it.
func TestOutputNoSpace(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	in := paymentsCSV(3000)
	refCSV, refJSONL := reference(t, in)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"in.csv": in, "files.flow.hcl": fileFlow})
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(dir, "out", "out.jsonl")); err != nil {
		t.Fatal(err)
	}
	r := flowRun(t, dir, "", time.Minute, "exec", "files.flow.hcl")
	wantCleanFailure(t, r, "out/out.jsonl", "no space left on device")
	wantCommittedPrefix(t, "out/out.csv", readFile(t, dir, "out/out.csv"), refCSV)

	// The cause fixed, the same command resumes the failed execution.
	if err := os.Remove(filepath.Join(dir, "out", "out.jsonl")); err != nil {
		t.Fatal(err)
	}
	r = flowRun(t, dir, "", time.Minute, "exec", "files.flow.hcl")
	wantCompleted(t, r)
	if !strings.Contains(r.stdout, "written = 3000") {
		t.Errorf("resumed run:\n%s", r)
	}
	if got := readFile(t, dir, "out/out.csv"); !bytes.Equal(got, refCSV) {
		t.Errorf("out/out.csv differs from the uninterrupted output (%d bytes, want %d)", len(got), len(refCSV))
	}
	if got := readFile(t, dir, "out/out.jsonl"); !bytes.Equal(got, refJSONL) {
		t.Errorf("out/out.jsonl differs from the uninterrupted output (%d bytes, want %d)", len(got), len(refJSONL))
	}
}

// A file size limit (RLIMIT_FSIZE: the disk full of one process) is
// reached half way through the outputs: a write fails part way (EFBIG).
// The step fails naming the file; each output holds whole committed
// chunks, no torn record; without the limit, the run resumes and the
// outputs are byte-identical to an uninterrupted run's.
func TestOutputFullMidRun(t *testing.T) {
	in := paymentsCSV(20000)
	refCSV, refJSONL := reference(t, in)
	if len(refJSONL) < 600<<10 {
		t.Fatalf("the reference output has %d bytes: too small for the limit", len(refJSONL))
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"in.csv": in, "files.flow.hcl": fileFlow})
	r := flowRun(t, dir, "ulimit -f 512", time.Minute, "exec", "files.flow.hcl") // 512 KiB
	wantCleanFailure(t, r, "out/out.jsonl", "file too large")
	gotCSV, gotJSONL := readFile(t, dir, "out/out.csv"), readFile(t, dir, "out/out.jsonl")
	wantCommittedPrefix(t, "out/out.csv", gotCSV, refCSV)
	wantCommittedPrefix(t, "out/out.jsonl", gotJSONL, refJSONL)
	if len(gotJSONL) == 0 || len(gotJSONL) >= len(refJSONL) {
		t.Errorf("out/out.jsonl has %d bytes of %d: the limit did not stop it half way", len(gotJSONL), len(refJSONL))
	}

	r = flowRun(t, dir, "", time.Minute, "exec", "files.flow.hcl")
	wantCompleted(t, r)
	if !strings.Contains(r.stderr, "batch resumes from its checkpoint") || !strings.Contains(r.stdout, "written = 20000") {
		t.Errorf("the second run did not resume the batch:\n%s", r)
	}
	if got := readFile(t, dir, "out/out.csv"); !bytes.Equal(got, refCSV) {
		t.Errorf("out/out.csv differs from the uninterrupted output (%d bytes, want %d)", len(got), len(refCSV))
	}
	if got := readFile(t, dir, "out/out.jsonl"); !bytes.Equal(got, refJSONL) {
		t.Errorf("out/out.jsonl differs from the uninterrupted output (%d bytes, want %d)", len(got), len(refJSONL))
	}
}

// The store runs out of room (a file size limit smaller than the store
// must grow to; the output goes to /dev/null). The run fails with the
// store's error; the execution stays STARTED, as after a crash, and the
// next run takes it over and completes it.
func TestStoreFull(t *testing.T) {
	if _, err := os.Stat(os.DevNull); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"in.csv": paymentsCSV(20000), "null.flow.hcl": `flow "null" {
  batch "copy" {
    chunk_size = 100
    reader "csv" { path = "in.csv" }
    writer "csv" { path = "/dev/null" }
  }
  output "written" { value = step.copy.write_count }
}
`})
	// Make the store, then forbid it to grow.
	writeFiles(t, dir, map[string]string{"init.flow.hcl": `flow "init" {
  log "hello" { message = "a store" }
}
`})
	wantCompleted(t, flowRun(t, dir, "", time.Minute, "exec", "--store", "st/flow.db", "init.flow.hcl"))
	fi, err := os.Stat(filepath.Join(dir, "st", "flow.db"))
	if err != nil {
		t.Fatal(err)
	}
	limit := fmt.Sprintf("ulimit -f %d", fi.Size()/1024)
	r := flowRun(t, dir, limit, time.Minute, "exec", "--store", "st/flow.db", "null.flow.hcl")
	wantCleanFailure(t, r, "st/flow.db", "file too large")
	r = flowRun(t, dir, "", time.Minute, "exec", "--store", "st/flow.db", "null.flow.hcl")
	wantCompleted(t, r)
	if !strings.Contains(r.stdout, "written = 20000") {
		t.Errorf("second run:\n%s", r)
	}
	h := flowRun(t, dir, "", time.Minute, "history", "--store", "st/flow.db")
	if h.code != 0 || !strings.Contains(h.stdout, "FAILED") || !strings.Contains(h.stdout, "died") {
		t.Errorf("history does not show the first execution failed by its owner's death:\n%s", h)
	}
}
