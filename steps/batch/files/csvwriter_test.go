package files

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// sliceLoader loads records from a slice and can seek.
type sliceLoader struct {
	recs []*record.Record
	next int
}

func (l *sliceLoader) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	n := min(max, len(l.recs)-l.next)
	out := l.recs[l.next : l.next+n]
	l.next += n
	return out, nil
}
func (l *sliceLoader) Position() ([]byte, error) { return []byte(strconv.Itoa(l.next)), nil }
func (l *sliceLoader) Seek(p []byte) (err error) {
	l.next, err = strconv.Atoi(string(p))
	return err
}

func mustSchema(t testing.TB, fields ...record.Field) *record.Schema {
	t.Helper()
	s, err := record.NewSchema(fields...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeRecords runs recs through a writer made from attrs; it returns the
// file's bytes.
func writeRecords(t *testing.T, typ string, attrs map[string]cty.Value, recs []*record.Record) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	a := map[string]cty.Value{"path": cty.StringVal("out/sub/out." + typ)}
	for k, v := range attrs {
		a[k] = v
	}
	var w batch.Writer
	var err error
	if typ == "csv" {
		w, err = newCSVWriter(testConfig(dir, typ, a))
	} else {
		w, err = newJSONLWriter(testConfig(dir, typ, a))
	}
	if err != nil {
		return nil, err
	}
	_, err = batch.Run[*record.Record, *record.Record](context.Background(), &sliceLoader{recs: recs}, passRecords, w,
		batch.Options[*record.Record]{ChunkSize: 2})
	if cerr := w.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	out, rerr := os.ReadFile(filepath.Join(dir, "out/sub/out."+typ))
	if rerr != nil {
		t.Fatal(rerr)
	}
	return out, err
}

func TestCSVWriterQuoting(t *testing.T) {
	s := mustSchema(t, record.Field{Name: "name"}, record.Field{Name: "n"}, record.Field{Name: "when"})
	ts := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	vals := [][]record.Value{
		{record.Str("plain"), record.IntVal(1), record.TimeVal(ts)},
		{record.Str("a,b"), record.Dec(1050, 2), {}},
		{record.Str(`say "hi"`), record.FloatVal(0.5), record.BoolVal(true)},
		{record.Str("two\nlines"), record.Str(" lead"), record.Str("trail ")},
		{record.Str("cr\r"), record.Str(""), record.Str("\ttab")},
	}
	var recs []*record.Record
	for _, v := range vals {
		recs = append(recs, &record.Record{Schema: s, Values: v})
	}
	cases := []struct {
		name  string
		attrs map[string]cty.Value
		want  string
	}{
		{"default", nil, "name,n,when\n" +
			"plain,1,2026-11-20T10:00:00Z\n" +
			"\"a,b\",10.50,\n" +
			"\"say \"\"hi\"\"\",0.5,true\n" +
			"\"two\nlines\",\" lead\",\"trail \"\n" +
			"\"cr\r\",,\"\ttab\"\n"},
		{"quote all, no header", map[string]cty.Value{"quote_all": cty.True, "header": cty.False}, "" +
			"\"plain\",\"1\",\"2026-11-20T10:00:00Z\"\n" +
			"\"a,b\",\"10.50\",\"\"\n" +
			"\"say \"\"hi\"\"\",\"0.5\",\"true\"\n" +
			"\"two\nlines\",\" lead\",\"trail \"\n" +
			"\"cr\r\",\"\",\"\ttab\"\n"},
		{"semicolon", map[string]cty.Value{"delimiter": cty.StringVal(";")}, "name;n;when\n" +
			"plain;1;2026-11-20T10:00:00Z\n" +
			"a,b;10.50;\n" +
			"\"say \"\"hi\"\"\";0.5;true\n" +
			"\"two\nlines\";\" lead\";\"trail \"\n" +
			"\"cr\r\";;\"\ttab\"\n"},
		{"columns select and order", map[string]cty.Value{"columns": strList("n", "missing", "name")}, "n,missing,name\n" +
			"1,,plain\n" +
			"10.50,,\"a,b\"\n" +
			"0.5,,\"say \"\"hi\"\"\"\n" +
			"\" lead\",,\"two\nlines\"\n" +
			",,\"cr\r\"\n"},
		{"single column", map[string]cty.Value{"columns": strList("n")}, "n\n1\n10.50\n0.5\n\" lead\"\n\"\"\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := writeRecords(t, "csv", tc.attrs, recs)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestCSVWriterColumnsFromTheFirstRecord(t *testing.T) {
	s1 := mustSchema(t, record.Field{Name: "a"}, record.Field{Name: "b"})
	s2 := mustSchema(t, record.Field{Name: "b"}, record.Field{Name: "a"})
	s3 := mustSchema(t, record.Field{Name: "a"})
	s4 := mustSchema(t, record.Field{Name: "a"}, record.Field{Name: "c"})
	recs := []*record.Record{
		{Schema: s1, Values: []record.Value{record.Str("1"), record.Str("2")}},
		{Schema: s2, Values: []record.Value{record.Str("3"), record.Str("4")}},
		{Schema: s3, Values: []record.Value{record.Str("5")}},
	}
	got, err := writeRecords(t, "csv", nil, recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a,b\n1,2\n4,3\n5,\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	bad := append(recs, &record.Record{Schema: s4, Values: []record.Value{record.Str("6"), record.Str("7")}, Source: "in.csv", Line: 9})
	_, err = writeRecords(t, "csv", nil, bad)
	if err == nil || !strings.Contains(err.Error(), "field c is not among the columns (a, b)") || !strings.Contains(err.Error(), "in.csv:9") {
		t.Errorf("error %v, want one naming field c and in.csv:9", err)
	}
}

func TestCSVWriterConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]cty.Value
		msg   string
	}{
		{map[string]cty.Value{}, "path is required"},
		{map[string]cty.Value{"path": cty.StringVal("x.csv"), "delimiter": cty.StringVal("")}, "delimiter must be one ASCII character"},
		{map[string]cty.Value{"path": cty.StringVal("x.csv"), "delimiter": cty.StringVal(`"`)}, "the delimiter cannot be the quote"},
	} {
		if _, err := newCSVWriter(testConfig(t.TempDir(), "csv", tc.attrs)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want ...%s...", tc.attrs, err, tc.msg)
		}
	}
}

// TestCSVRoundTrip writes random text with the writer and reads it back.
func TestCSVRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "b", " ", ",", `"`, "\n", "\r", "\r\n", "\t", ";", "é", "#"}
	s := mustSchema(t, record.Field{Name: "x"}, record.Field{Name: "y"}, record.Field{Name: "z"})
	var recs []*record.Record
	for i := 0; i < 2000; i++ {
		rec := record.New(s)
		for j := range rec.Values {
			var b strings.Builder
			for k := rng.IntN(6); k > 0; k-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			rec.Values[j] = record.Str(b.String())
		}
		recs = append(recs, rec)
	}
	for _, delim := range []string{",", ";", "\t"} {
		out, err := writeRecords(t, "csv", map[string]cty.Value{"delimiter": cty.StringVal(delim)}, recs)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		writeTemp(t, dir, "in.csv", string(out))
		r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("in.csv"), "delimiter": cty.StringVal(delim)}))
		if err != nil {
			t.Fatal(err)
		}
		got, bads := drain(t, r)
		r.Close()
		if len(bads) > 0 {
			t.Fatalf("delimiter %q: %s: %v (%q)", delim, bads[0].where, bads[0].err, bads[0].raw)
		}
		if len(got) != len(recs) {
			t.Fatalf("delimiter %q: %d records back, want %d", delim, len(got), len(recs))
		}
		for i := range got {
			if !got[i].Equal(recs[i]) {
				t.Fatalf("delimiter %q: record %d: %q, want %q", delim, i, rowOf(got[i]), rowOf(recs[i]))
			}
		}
	}
}

// --- exactly-once under kill and resume ---

// pipeline is the batch the exactly-once tests run: a CSV file through a
// processor (which filters some records and doubles others) to a writer.
type pipeline struct {
	dir     string
	writer  func() batch.Writer
	out     string
	outS    *record.Schema
	conc    int
	chunk   int
	partKey bool
}

func newPipeline(t *testing.T, typ string, n int) *pipeline {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	b.WriteString("id,account,amount,memo\n")
	for i := 1; i <= n; i++ {
		memo := fmt.Sprintf("memo %d", rng.IntN(1e6))
		switch rng.IntN(8) {
		case 0:
			memo = `"with, comma"`
		case 1:
			memo = "\"two\nlines \"\"q\"\"\""
		}
		fmt.Fprintf(&b, "%d,ACC%06d,%d.%02d,%s\n", i, rng.IntN(50), rng.IntN(10000), rng.IntN(100), memo)
	}
	writeTemp(t, dir, "in.csv", b.String())
	p := &pipeline{dir: dir, out: filepath.Join(dir, "out", "out."+typ), conc: 1, chunk: 7,
		outS: mustSchema(t, record.Field{Name: "id"}, record.Field{Name: "account"}, record.Field{Name: "amount"},
			record.Field{Name: "memo"}, record.Field{Name: "copy"})}
	p.writer = func() batch.Writer {
		cfg := testConfig(dir, typ, map[string]cty.Value{"path": cty.StringVal("out/out." + typ)})
		var w batch.Writer
		var err error
		if typ == "csv" {
			w, err = newCSVWriter(cfg)
		} else {
			w, err = newJSONLWriter(cfg)
		}
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	return p
}

var errKilled = errors.New("killed")

// run runs the pipeline, failing when it reaches id failAt (0: never). It returns the checkpoints it saved, through JSON as a store
// keeps them.
func (p *pipeline) run(t *testing.T, resume *batch.Checkpoint, failAt int64) ([]batch.Checkpoint, error) {
	t.Helper()
	r, err := newCSVReader(testConfig(p.dir, "csv", map[string]cty.Value{
		"path": cty.StringVal("in.csv"), "schema": strMap("id", "int", "amount", "decimal")}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := p.writer()
	defer w.Close()
	proc := batch.ProcessorFunc[*record.Record, *record.Record](func(c *batch.Chunk, in *record.Record, emit func(*record.Record)) error {
		id, _ := in.Values[0].Int()
		if id == failAt {
			return errKilled
		}
		if id%5 == 0 {
			return nil // filtered
		}
		copies := 1
		if id%9 == 0 {
			copies = 2
		}
		for k := 0; k < copies; k++ {
			out := record.New(p.outS)
			copy(out.Values, in.Values)
			out.Values[4] = record.IntVal(int64(k))
			out.Source, out.Line = in.Source, in.Line
			emit(out)
		}
		return nil
	})
	var cps []batch.Checkpoint
	opts := batch.Options[*record.Record]{ChunkSize: p.chunk, Concurrency: p.conc, Resume: resume,
		OnCommit: func(cp batch.Checkpoint) error {
			if err := w.Sync(); err != nil {
				return err
			}
			b, err := json.Marshal(cp)
			if err != nil {
				return err
			}
			var back batch.Checkpoint
			if err := json.Unmarshal(b, &back); err != nil {
				return err
			}
			cps = append(cps, back)
			return nil
		}}
	if p.partKey {
		opts.PartitionBy = func(r *record.Record) (string, error) { return r.Values[1].Str(), nil }
	}
	_, err = batch.Run[*record.Record, *record.Record](context.Background(), r, proc, w, opts)
	return cps, err
}

// killed runs the pipeline to the end through kills: each run fails at
// a random item; the next resumes from its last checkpoint or, after
// garbage was appended to the output, from an earlier one (as when the
// process died after writing a chunk but before its checkpoint was saved).
func (p *pipeline) killed(t *testing.T, rng *rand.Rand, n, kills int) []byte {
	var resume *batch.Checkpoint
	failAt := int64(0)
	for k := 0; ; k++ {
		at := int64(0)
		if k < kills {
			failAt += 1 + rng.Int64N(int64(2*n/kills))
			at = failAt
			if at > int64(n) {
				at = 0
			}
		}
		cps, err := p.run(t, resume, at)
		if at == 0 || err == nil {
			// (At concurrency 2, item at may have been committed already
			// by the run before: then this one ends.)
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if !errors.Is(err, errKilled) {
			t.Fatalf("run %d: error %v, want the kill", k, err)
		}
		if len(cps) == 0 {
			continue
		}
		i := len(cps) - 1
		if rng.IntN(2) == 0 {
			i = rng.IntN(len(cps))
			f, err := os.OpenFile(p.out, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.WriteString("garbage from a chunk whose checkpoint was lost\n")
			_ = f.Close()
		}
		resume = &cps[i]
	}
	out, err := os.ReadFile(p.out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testExactlyOnce(t *testing.T, typ string) {
	const n = 1500
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			p := newPipeline(t, typ, n)
			if _, err := p.run(t, nil, 0); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(p.out)
			if err != nil {
				t.Fatal(err)
			}
			if typ == "csv" && !bytes.HasPrefix(want, []byte("id,account,amount,memo,copy\n")) {
				t.Fatalf("no header: %q", want[:40])
			}
			got := p.killed(t, rand.New(rand.NewPCG(seed, 7)), n, 12)
			if !bytes.Equal(got, want) {
				t.Fatalf("output after kills differs: %d bytes, want %d\n%s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-60)
	return fmt.Sprintf("at byte %d: got %q, want %q", i, a[lo:min(len(a), i+60)], b[lo:min(len(b), i+60)])
}

func TestCSVWriterExactlyOnce(t *testing.T)   { testExactlyOnce(t, "csv") }
func TestJSONLWriterExactlyOnce(t *testing.T) { testExactlyOnce(t, "jsonl") }

// sortedRows returns the file's records (one a line for jsonl; CSV rows read
// back, since quoted fields span lines) sorted, and its header.
func sortedRows(t *testing.T, typ string, b []byte) (string, []string) {
	t.Helper()
	if typ == "jsonl" {
		ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		sort.Strings(ls)
		return "", ls
	}
	dir := t.TempDir()
	writeTemp(t, dir, "x.csv", string(b))
	r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("x.csv")}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, bads := drain(t, r)
	if len(bads) > 0 {
		t.Fatalf("%s: %v", bads[0].where, bads[0].err)
	}
	var rows []string
	for _, rec := range recs {
		rows = append(rows, strings.Join(rowOf(rec), "\x00"))
	}
	sort.Strings(rows)
	return strings.Join(r.Schema().Names(), ","), rows
}

func TestWritersConcurrency2(t *testing.T) {
	const n = 1500
	for _, typ := range []string{"csv", "jsonl"} {
		t.Run(typ, func(t *testing.T) {
			p := newPipeline(t, typ, n)
			if _, err := p.run(t, nil, 0); err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(p.out)
			wantHdr, wantRows := sortedRows(t, typ, want)
			for _, part := range []bool{false, true} {
				p.conc, p.partKey = 2, part
				if _, err := p.run(t, nil, 0); err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(p.out)
				hdr, rows := sortedRows(t, typ, got)
				if hdr != wantHdr || strings.Join(rows, "\n") != strings.Join(wantRows, "\n") {
					t.Fatalf("partitioned %v: concurrency 2 wrote another multiset of records (%d, want %d)", part, len(rows), len(wantRows))
				}
				if part {
					checkKeyOrder(t, typ, got)
				}
				got = p.killed(t, rand.New(rand.NewPCG(9, 9)), n, 8)
				hdr, rows = sortedRows(t, typ, got)
				if hdr != wantHdr || strings.Join(rows, "\n") != strings.Join(wantRows, "\n") {
					t.Fatalf("partitioned %v: concurrency 2 with kills wrote another multiset of records (%d, want %d)", part, len(rows), len(wantRows))
				}
				if part {
					checkKeyOrder(t, typ, got)
				}
			}
		})
	}
}

func TestFileWriterResumeErrors(t *testing.T) {
	dir := t.TempDir()
	s := mustSchema(t, record.Field{Name: "a"})
	recs := []*record.Record{{Schema: s, Values: []record.Value{record.Str("x")}}}
	run := func(resume *batch.Checkpoint) error {
		w, err := newCSVWriter(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("o.csv")}))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		_, err = batch.Run[*record.Record, *record.Record](context.Background(), &sliceLoader{recs: recs}, passRecords, w,
			batch.Options[*record.Record]{Resume: resume})
		return err
	}
	cp := &batch.Checkpoint{Writers: map[string][]byte{"csv": []byte(`{"offset":100}`)}}
	if err := run(cp); err == nil || !strings.Contains(err.Error(), "fewer than the 100 committed") {
		t.Errorf("resume past the end: %v", err)
	}
	cp.Writers["csv"] = []byte(`nonsense`)
	if err := run(cp); err == nil || !strings.Contains(err.Error(), "invalid writer state") {
		t.Errorf("resume from nonsense: %v", err)
	}
	// A resumed run without columns kept (nothing committed) writes the
	// header.
	cp.Writers["csv"] = []byte(`{"offset":0}`)
	if err := run(cp); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "o.csv")); string(b) != "a\nx\n" {
		t.Errorf("got %q", b)
	}
}

// checkKeyOrder checks that each account's records are in input order
// (ids increasing, copies in order).
func checkKeyOrder(t *testing.T, typ string, b []byte) {
	t.Helper()
	type rec struct{ id, copy int64 }
	var recs []struct {
		account string
		rec
	}
	if typ == "jsonl" {
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var v struct {
				ID      int64  `json:"id"`
				Account string `json:"account"`
				Copy    int64  `json:"copy"`
			}
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, struct {
				account string
				rec
			}{v.Account, rec{v.ID, v.Copy}})
		}
	} else {
		dir := t.TempDir()
		writeTemp(t, dir, "x.csv", string(b))
		r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("x.csv"), "schema": strMap("id", "int", "copy", "int")}))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		all, _ := drain(t, r)
		for _, x := range all {
			id, _ := x.Values[0].Int()
			c, _ := x.Values[4].Int()
			recs = append(recs, struct {
				account string
				rec
			}{x.Values[1].Str(), rec{id, c}})
		}
	}
	last := map[string]rec{}
	for _, x := range recs {
		if l, ok := last[x.account]; ok && (x.id < l.id || (x.id == l.id && x.copy <= l.copy)) {
			t.Fatalf("account %s: record %d/%d written after %d/%d", x.account, x.id, x.copy, l.id, l.copy)
		}
		last[x.account] = x.rec
	}
}
