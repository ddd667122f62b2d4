package chaos_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbatch/flow/internal/chaos"
	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/steps/batch"
)

var (
	batchKills   = flag.Int("chaos.batch.kills", 8, "the least number of SIGKILLs TestBatchChaos sends in each of its two scenarios")
	batchRecords = flag.Int("chaos.batch.records", 200000, "how many records the input of TestBatchChaos has")
	flowxBinary  = flag.String("chaos.flowx", "", "the flowx binary TestBatchChaos, TestSQLChaos and TestFixedSQLChaos drive (default: built from ./internal/flowx)")
	jsKills      = flag.Int("chaos.js.kills", 4, "the least number of SIGKILLs TestJSBatchChaos sends in each of its two scenarios")
	jsRecords    = flag.Int("chaos.js.records", 50000, "how many records the input of TestJSBatchChaos has")
)

// TestBatchChaos kills a batch step (the standard transform, a Go
// processor, from a CSV of 200k records to a CSV) at random moments,
// runs it again until it completes, and compares the output with an
// uninterrupted run's: byte for byte at concurrency 1; at concurrency 2
// with partition_by = "account", the same rows and, per account, the same
// order. After every kill the store must pass bbolt's check and the
// committed part of the output (up to the byte offset the checkpoint
// keeps) must be what the checkpoint counts. The counters must add up.
func TestBatchChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a 200k-record batch")
	}
	runBatchChaos(t, batchScenario{name: "TestBatchChaos", flags: "chaos.batch", kills: *batchKills, records: *batchRecords,
		stream: 1, bin: flowxBin, write: chaos.WriteBatchFlow})
}

// TestJSBatchChaos is TestBatchChaos with the transform in JavaScript
// (processor "js", exact decimals), run by the flow binary, on 50k
// records.
func TestJSBatchChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a 50k-record batch")
	}
	runBatchChaos(t, batchScenario{name: "TestJSBatchChaos", flags: "chaos.js", kills: *jsKills, records: *jsRecords,
		stream: 3, bin: func(t *testing.T) string {
			if buildErr != nil {
				t.Fatal(buildErr)
			}
			return flowBin
		}, write: chaos.WriteJSBatchFlow})
}

// batchScenario is a flow of BatchFlowSource's shape run by runBatchChaos.
type batchScenario struct {
	name, flags    string // the test and its flags' prefix, for the reproduce line
	kills, records int
	stream         uint64 // the random stream of the test's delays
	bin            func(t *testing.T) string
	write          func(dir string) (string, error)
}

func runBatchChaos(t *testing.T, bs batchScenario) {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./internal/chaos -run '%s' -chaos.seed=%d -%s.kills=%d -%s.records=%d",
				bs.name, s, bs.flags, bs.kills, bs.flags, bs.records)
		}
	})
	bin := bs.bin(t)
	base := t.TempDir()
	in := filepath.Join(base, "in.csv")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	inSeed := int64(s % (1 << 31))
	if err := gen.WriteCSV(f, bs.records, inSeed); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// What T must produce: the baseline over plain strings.
	var want bytes.Buffer
	src, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	n, err := gen.Baseline(src, &want)
	src.Close()
	if err != nil || n != bs.records {
		t.Fatalf("baseline: %d records, %v", n, err)
	}
	kept := int64(bytes.Count(want.Bytes(), []byte("\n")) - 1)
	flowFile, err := bs.write(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("input: %d records (seed %d), %d kept by the transform", n, inSeed, kept)

	rng := rand.New(rand.NewPCG(s, bs.stream))
	for _, sc := range []struct {
		name        string
		concurrency int
		partitionBy string
	}{
		{"concurrency 1", 1, ""},
		{"concurrency 2 by account", 2, "account"},
	} {
		t.Run(sc.name, func(t *testing.T) {
			ordered := sc.concurrency == 1
			d := &chaos.BatchDriver{Binary: bin, FlowFile: flowFile, In: in, Concurrency: sc.concurrency,
				PartitionBy: sc.partitionBy, ChunkSize: 1000, MaxKills: 3}
			// The output must be the baseline's: byte for byte when the
			// order is the input's, else the same rows in each account's order.
			same := func(out []byte) (int, error) {
				if ordered {
					if !bytes.Equal(out, want.Bytes()) {
						return 0, fmt.Errorf("the output (%d bytes) differs from the uninterrupted run's (%d bytes) at byte %d",
							len(out), want.Len(), firstDiff(out, want.Bytes()))
					}
					return bytes.Count(out, []byte("\n")) - 1, nil
				}
				return chaos.SameLines(out, want.Bytes(), 1)
			}
			ctx := context.Background()
			ref, err := d.Reference(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			refOut, err := os.ReadFile(ref.Out)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := same(refOut); err != nil {
				t.Fatalf("uninterrupted run: %v", err)
			}
			checkCounters(t, "uninterrupted run", ref, int64(n), kept, ordered)
			t.Logf("uninterrupted run: %s", ref.Attempts[0].Elapsed.Round(time.Millisecond))

			d.AfterKill = func(committed []byte, cp *batch.Checkpoint) error {
				if cp == nil {
					return nil
				}
				var rows int
				if ordered {
					if !bytes.HasPrefix(want.Bytes(), committed) {
						return fmt.Errorf("the committed %d bytes are not the start of the expected output (first difference at byte %d)",
							len(committed), firstDiff(committed, want.Bytes()))
					}
					rows = max(bytes.Count(committed, []byte("\n"))-1, 0)
				} else if rows, err = chaos.SubsetLines(committed, want.Bytes()); err != nil {
					return fmt.Errorf("the committed output: %w", err)
				}
				c := cp.Counters
				if int64(rows) != c.Write {
					return fmt.Errorf("the committed output has %d rows, the checkpoint counts %d written", rows, c.Write)
				}
				if c.Read != c.Write+c.Filter+c.Skips() {
					return fmt.Errorf("checkpoint counters: read %d != write %d + filter %d + skips %d", c.Read, c.Write, c.Filter, c.Skips())
				}
				return nil
			}
			var total struct{ rounds, kills, resumes, checkpoints, rows int }
			deadline := time.Now().Add(20 * time.Minute)
			for total.kills < bs.kills {
				if total.rounds > 10*bs.kills+10 || time.Now().After(deadline) {
					t.Fatalf("only %d kills landed in %d rounds", total.kills, total.rounds)
				}
				r, err := d.Round(ctx, t.TempDir(), rng.Uint64())
				total.rounds++
				var desc strings.Builder
				r.Describe(&desc)
				if err != nil {
					t.Fatalf("round %d: %v\n%s", total.rounds, err, desc.String())
				}
				total.kills += r.Kills
				total.resumes += r.Resumes
				total.checkpoints += r.Checkpoints
				out, err := os.ReadFile(r.Out)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := same(out)
				if err != nil {
					t.Fatalf("round %d: %v\n%s", total.rounds, err, desc.String())
				}
				total.rows += rows
				checkCounters(t, fmt.Sprintf("round %d", total.rounds), r, int64(n), kept, ordered)
				if t.Failed() {
					t.Log(desc.String())
					return
				}
			}
			// same and checkCounters fail the test on a lost or repeated
			// row: reaching here means none.
			t.Logf("%s: %d rounds, %d kills (%d after a checkpoint), %d resumes, %d output rows checked, 0 lost, 0 duplicated; seed %d",
				sc.name, total.rounds, total.kills, total.checkpoints, total.resumes, total.rows, s)
		})
	}
}

// flowxBin returns the flowx binary (flow plus processor "standard"):
// -chaos.flowx, or built once for the package's tests.
func flowxBin(t *testing.T) string {
	t.Helper()
	if *flowxBinary != "" {
		return *flowxBinary
	}
	flowx.once.Do(func() {
		// Without -race, as TestMain builds flow: the tests are about
		// surviving kills.
		dir, err := os.MkdirTemp("", "flowx-chaos-")
		if err != nil {
			flowx.err = err
			return
		}
		flowx.dir = dir
		flowx.path = filepath.Join(dir, "flowx")
		if out, err := exec.Command("go", "build", "-o", flowx.path, "github.com/flowbatch/flow/internal/flowx").CombinedOutput(); err != nil {
			flowx.err = fmt.Errorf("building flowx: %v\n%s", err, out)
		}
	})
	if flowx.err != nil {
		t.Fatal(flowx.err)
	}
	return flowx.path
}

// flowx is the flowx binary built by flowxBin.
var flowx struct {
	once      sync.Once
	dir, path string
	err       error
}

// removeFlowx removes what flowxBin built (TestMain calls it).
func removeFlowx() {
	if flowx.dir != "" {
		os.RemoveAll(flowx.dir)
	}
}

// checkCounters checks what flow show says of a completed round: the
// flow's outputs (the batch step's counters) and the step's counters.
func checkCounters(t *testing.T, what string, r *chaos.BatchRound, read, kept int64, ordered bool) {
	t.Helper()
	sh := r.Show
	got := map[string]int64{}
	for _, k := range []string{"read", "write", "filter", "skip", "commit", "rollback"} {
		v, err := sh.Output(k)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		got[k] = v
	}
	want := map[string]int64{"read": read, "write": kept, "filter": read - kept, "skip": 0, "rollback": 0, "commit": got["commit"]}
	if ordered {
		// One commit per chunk of 1000, resumed or not.
		want["commit"] = (read + 999) / 1000
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: output %s = %d, want %d (outputs %v)", what, k, got[k], w, got)
		}
	}
	if got["read"] != got["write"]+got["filter"]+got["skip"] {
		t.Errorf("%s: read %d != write %d + filter %d + skip %d", what, got["read"], got["write"], got["filter"], got["skip"])
	}
	cs, status, ok := sh.StepCounters(chaos.BatchStep)
	if !ok {
		t.Errorf("%s: flow show lists no step %s", what, chaos.BatchStep)
		return
	}
	if status != "COMPLETED" {
		t.Errorf("%s: step %s is %s", what, chaos.BatchStep, status)
	}
	for k, v := range map[string]int64{"read_count": got["read"], "write_count": got["write"], "filter_count": got["filter"],
		"skip_count": got["skip"], "commit_count": got["commit"], "rollback_count": got["rollback"]} {
		if cs[k] != v {
			t.Errorf("%s: flow show says %s = %d for %s, the step's output is %d (counters %v)", what, k, cs[k], chaos.BatchStep, v, cs)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// The comparison helpers of the scenario catch what they are for.
func TestSameLines(t *testing.T) {
	want := "id,account\n1,A\n2,B\n3,A\n4,C\n"
	tests := []struct {
		name, got string
		ok        bool
	}{
		{"same", want, true},
		{"other order, keys kept", "id,account\n2,B\n1,A\n4,C\n3,A\n", true},
		{"key order broken", "id,account\n3,A\n2,B\n1,A\n4,C\n", false},
		{"row lost", "id,account\n1,A\n2,B\n3,A\n", false},
		{"row twice", "id,account\n1,A\n2,B\n3,A\n4,C\n4,C\n", false},
		{"duplicate for a lost one", "id,account\n1,A\n2,B\n3,A\n3,A\n", false},
		{"header", "id,acct\n1,A\n2,B\n3,A\n4,C\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := chaos.SameLines([]byte(tt.got), []byte(want), 1)
			if (err == nil) != tt.ok {
				t.Errorf("error %v, want ok %v", err, tt.ok)
			}
		})
	}
	for _, tt := range []struct {
		part string
		rows int
		ok   bool
	}{
		{"", 0, true},
		{"id,account\n", 0, true},
		{"id,account\n3,A\n1,A\n", 2, true},
		{"id,account\n3,A\n3,A\n", 0, false},
		{"id,account\n5,E\n", 0, false},
		{"id,acct\n1,A\n", 0, false},
	} {
		rows, err := chaos.SubsetLines([]byte(tt.part), []byte(want))
		if (err == nil) != tt.ok || (tt.ok && rows != tt.rows) {
			t.Errorf("SubsetLines(%q) = %d, %v", tt.part, rows, err)
		}
	}
}

func TestCommittedOffset(t *testing.T) {
	cp := &batch.Checkpoint{Writers: map[string][]byte{"csv": []byte(`{"offset":1234}`), "bad": []byte(`{}`)}}
	if off, err := chaos.CommittedOffset(cp, "csv"); err != nil || off != 1234 {
		t.Errorf("offset %d, %v", off, err)
	}
	for _, w := range []string{"bad", "none"} {
		if _, err := chaos.CommittedOffset(cp, w); err == nil {
			t.Errorf("writer %s: no error", w)
		}
	}
}
