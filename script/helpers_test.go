package script

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// memLoader hands out records from memory and can seek.
type memLoader struct {
	recs []*record.Record
	next int
}

func (l *memLoader) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	n := min(max, len(l.recs)-l.next)
	out := l.recs[l.next : l.next+n]
	l.next += n
	return out, nil
}

// sink keeps what is committed, in commit order.
type sink struct {
	mu  sync.Mutex
	got []*record.Record
}

type sinkKey struct{}

func (s *sink) Setup(t *batch.Task) error {
	t.OnCommit(func(c *batch.Chunk) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		out, _ := c.Values[sinkKey{}].([]*record.Record)
		s.got = append(s.got, out...)
		return nil
	})
	return nil
}

func (s *sink) Consume(c *batch.Chunk, items []*record.Record) error {
	c.Values[sinkKey{}] = append([]*record.Record(nil), items...)
	return nil
}

// txns makes n records id, account, amount (decimal), currency, ts, note
// with a CSV-like source position.
func txns(n int) []*record.Record {
	s, _ := record.NewSchema(
		record.Field{Name: "id", Kind: record.Int},
		record.Field{Name: "account", Kind: record.String},
		record.Field{Name: "amount", Kind: record.Decimal},
		record.Field{Name: "currency", Kind: record.String},
		record.Field{Name: "ts", Kind: record.Time},
		record.Field{Name: "note", Kind: record.String},
	)
	out := make([]*record.Record, n)
	cur := []string{"EUR", "USD", "GBP"}
	for i := range out {
		ts, _ := record.Parse(record.Time, fmt.Sprintf("2026-11-20T10:%02d:%02d.123456789Z", (i/60)%60, i%60))
		out[i] = &record.Record{Schema: s, Source: "in.csv", Line: int64(i + 2), Values: []record.Value{
			record.IntVal(int64(i + 1)),
			record.Str(fmt.Sprintf("ACC%03d", i%97)),
			record.Dec(int64((i*7919)%1000000), 2),
			record.Str(cur[i%3]),
			ts,
			record.Str("payment"),
		}}
	}
	return out
}

// newProc makes a js processor from code (and extra attributes).
func newProc(t testing.TB, code string, attrs map[string]cty.Value, log *slog.Logger) batch.RecordProcessor {
	t.Helper()
	a := map[string]cty.Value{"code": cty.StringVal(code), "file": cty.NullVal(cty.String), "timeout": cty.StringVal("5s"), "params": cty.NullVal(cty.DynamicPseudoType)}
	for k, v := range attrs {
		a[k] = v
	}
	p, err := newProcessor(&batch.Config{Type: "js", Name: "js", Attrs: a, Dir: t.TempDir(), Step: "main/test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs recs through p with the given options and returns the outputs.
func run(t testing.TB, p batch.RecordProcessor, recs []*record.Record, opts batch.Options[*record.Record]) ([]*record.Record, batch.Counters, error) {
	t.Helper()
	s := &sink{}
	cnt, err := batch.Run[*record.Record, *record.Record](context.Background(), &memLoader{recs: recs}, p, s, opts)
	return s.got, cnt, err
}

// text renders records as JSON lines, for compact assertions.
func text(recs []*record.Record) string {
	var b strings.Builder
	for _, r := range recs {
		j, _ := record.AppendRecordJSON(nil, r)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// A reader and a writer for flows in tests: reader "script_test" makes
// count records like txns; writer "script_test" keeps what it commits
// under its key.
var (
	testOutMu sync.Mutex
	testOut   = map[string][]*record.Record{}
)

func testOutput(key string) []*record.Record {
	testOutMu.Lock()
	defer testOutMu.Unlock()
	return append([]*record.Record(nil), testOut[key]...)
}

type testReader struct {
	memLoader
}

func (r *testReader) Position() ([]byte, error) { return []byte(fmt.Sprint(r.next)), nil }
func (r *testReader) Seek(p []byte) error {
	_, err := fmt.Sscan(string(p), &r.next)
	return err
}

type testWriter struct {
	key string
}

type testWriterKey struct{ key string }

func (w *testWriter) Setup(t *batch.Task) error {
	t.OnCommit(func(c *batch.Chunk) error {
		out, _ := c.Values[testWriterKey{w.key}].([]*record.Record)
		testOutMu.Lock()
		testOut[w.key] = append(testOut[w.key], out...)
		testOutMu.Unlock()
		return nil
	})
	return nil
}

func (w *testWriter) Consume(c *batch.Chunk, items []*record.Record) error {
	c.Values[testWriterKey{w.key}] = append([]*record.Record(nil), items...)
	return nil
}

func (w *testWriter) Sync() error  { return nil }
func (w *testWriter) Close() error { return nil }

func init() {
	batch.RegisterReader(&batch.ReaderType{Name: "script_test",
		Attrs: []flow.Attr{{Name: "count", Type: cty.Number, Required: true}},
		New: func(c *batch.Config) (batch.Reader, error) {
			return &testReader{memLoader{recs: txns(int(c.Int("count")))}}, nil
		}})
	batch.RegisterWriter(&batch.WriterType{Name: "script_test",
		Attrs: []flow.Attr{{Name: "key", Type: cty.String, Required: true}},
		New: func(c *batch.Config) (batch.Writer, error) {
			testOutMu.Lock()
			delete(testOut, c.String("key"))
			testOutMu.Unlock()
			return &testWriter{key: c.String("key")}, nil
		}})
}

// logBuffer is a slog handler target that tests read.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	h := slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return slog.New(h).With("step", "main/test"), lb
}
