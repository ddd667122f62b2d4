package script

// Benchmarks of the per-record cost of JavaScript, with the baselines the
// issue compares against in the same run: a Go program with encoding/csv,
// and a hand-written goja loop (a dynamic object over the record, results
// read with Get, one runtime). Figures are printed as records/s, never
// asserted.
//
//	go test ./script -run '^$' -bench . -benchmem

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// The standard transform: drop amount < 10; cents; lower-case currency;
// big = amount > 5000.
const standardJS = `
if (item.amount < 10) return;
return { ...item, cents: Math.round(item.amount * 100), currency: item.currency.toLowerCase(), big: item.amount > 5000 };
`

var benchSchema, _ = record.NewSchema(
	record.Field{Name: "id", Kind: record.Int},
	record.Field{Name: "account", Kind: record.String},
	record.Field{Name: "amount", Kind: record.Decimal},
	record.Field{Name: "currency", Kind: record.String},
	record.Field{Name: "date", Kind: record.String},
	record.Field{Name: "memo", Kind: record.String},
)

// benchCSV makes n rows of the benchmark's CSV input.
func benchCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,account,amount,currency,date,memo\n")
	cur := []string{"EUR", "USD", "GBP"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,ACC%05d,%d.%02d,%s,2026-11-%02d,payment %d\n", i+1, i%9973, (i*7919)%10000, i%100, cur[i%3], i%28+1, i%13)
	}
	return b.Bytes()
}

// csvLoader reads the benchmark CSV into typed records with encoding/csv.
type csvLoader struct {
	r    *csv.Reader
	line int64
}

func newCSVLoader(data []byte) *csvLoader {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	_, _ = r.Read() // header
	return &csvLoader{r: r, line: 1}
}

func parseRow(row []string, line int64) (*record.Record, error) {
	id, err := strconv.ParseInt(row[0], 10, 64)
	if err != nil {
		return nil, err
	}
	amount, err := record.ParseDecimal(row[2])
	if err != nil {
		return nil, err
	}
	return &record.Record{Schema: benchSchema, Source: "bench.csv", Line: line, Values: []record.Value{
		record.IntVal(id), record.Str(strings.Clone(row[1])), amount, record.Str(strings.Clone(row[3])),
		record.Str(strings.Clone(row[4])), record.Str(strings.Clone(row[5])),
	}}, nil
}

func (l *csvLoader) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	out := make([]*record.Record, 0, max)
	for len(out) < max {
		row, err := l.r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		l.line++
		rec, err := parseRow(row, l.line)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// csvSink writes records as CSV to a buffer it discards.
type csvSink struct {
	buf []byte
}

func (s *csvSink) Consume(c *batch.Chunk, items []*record.Record) error {
	b := s.buf[:0]
	for _, r := range items {
		for i, v := range r.Values {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.AppendText(b)
		}
		b = append(b, '\n')
	}
	s.buf = b
	return nil
}

const benchRows = 200_000

var benchData = benchCSV(benchRows)

// meter measures a benchmark's loop: wall time, and the process's CPU
// time, steadier than wall time on a shared machine.
type meter struct {
	wall time.Time
	cpu  time.Duration
}

func startMeter() meter { return meter{time.Now(), cpuTime()} }

// report prints records/s and CPU ns per record, and returns the latter.
func (m meter) report(b *testing.B, records int) float64 {
	b.ReportMetric(float64(records)/time.Since(m.wall).Seconds(), "records/s")
	cpu := float64((cpuTime() - m.cpu).Nanoseconds()) / float64(records)
	if cpu > 0 {
		b.ReportMetric(cpu, "cpu-ns/rec")
	}
	return cpu
}

// BenchmarkPipelineGo is the Go baseline: encoding/csv in, the transform
// in Go, CSV out.
func BenchmarkPipelineGo(b *testing.B) {
	m := startMeter()
	for b.Loop() {
		l := newCSVLoader(benchData)
		s := &csvSink{}
		out := make([]*record.Record, 0, 1000)
		outSchema, _ := record.Names("id", "account", "amount", "currency", "date", "memo", "cents", "big")
		for {
			recs, err := l.Load(nil, 1000)
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			out = out[:0]
			for _, r := range recs {
				u, sc, _ := r.Values[2].Decimal()
				amt := float64(u) / float64(pow10tab[sc])
				if amt < 10 {
					continue
				}
				vals := make([]record.Value, 8)
				copy(vals, r.Values)
				vals[3] = record.Str(strings.ToLower(r.Values[3].Str()))
				cents, _ := dec{u, sc}.round(2)
				vals[6] = record.IntVal(cents.u)
				vals[7] = record.BoolVal(amt > 5000)
				out = append(out, &record.Record{Schema: outSchema, Values: vals})
			}
			_ = s.Consume(nil, out)
		}
	}
	m.report(b, benchRows*b.N)
}

// plainItem is the hand-written loop's dynamic object over a record.
type plainItem struct {
	vm  *goja.Runtime
	rec *record.Record
}

func (p *plainItem) Get(k string) goja.Value {
	i, ok := p.rec.Schema.Index(k)
	if !ok {
		return nil
	}
	v := p.rec.Values[i]
	switch v.Kind() {
	case record.Int:
		n, _ := v.Int()
		return p.vm.ToValue(n)
	case record.Decimal:
		f, _ := v.Float()
		return p.vm.ToValue(f)
	}
	return p.vm.ToValue(v.Str())
}
func (p *plainItem) Set(string, goja.Value) bool { return false }
func (p *plainItem) Has(k string) bool           { _, ok := p.rec.Schema.Index(k); return ok }
func (p *plainItem) Delete(string) bool          { return false }
func (p *plainItem) Keys() []string              { return p.rec.Schema.Names() }

// handGoja is the best hand-written goja loop: one runtime, a dynamic
// object over the record, T in JS, the result's fields read with Get by
// their known names.
type handGoja struct {
	vm     *goja.Runtime
	fn     goja.Callable
	names  []string
	schema *record.Schema
}

func newHandGoja() *handGoja {
	vm := goja.New()
	v, err := vm.RunString(`(function(r) {
  if (r.amount < 10) return null;
  return { id: r.id, account: r.account, amount: r.amount, currency: r.currency.toLowerCase(), date: r.date, memo: r.memo,
           cents: Math.round(r.amount * 100), big: r.amount > 5000 };
})`)
	if err != nil {
		panic(err)
	}
	fn, _ := goja.AssertFunction(v)
	names := []string{"id", "account", "amount", "currency", "date", "memo", "cents", "big"}
	schema, _ := record.Names(names...)
	return &handGoja{vm: vm, fn: fn, names: names, schema: schema}
}

// transform runs T over one record: nil when it is filtered out.
func (h *handGoja) transform(r *record.Record) (*record.Record, error) {
	res, err := h.fn(goja.Undefined(), h.vm.NewDynamicObject(&plainItem{vm: h.vm, rec: r}))
	if err != nil {
		return nil, err
	}
	o, ok := res.(*goja.Object)
	if !ok {
		return nil, nil
	}
	vals := make([]record.Value, len(h.names))
	for i, n := range h.names {
		f := o.Get(n)
		switch f.ExportType() {
		case typeInt64:
			vals[i] = record.IntVal(f.ToInteger())
		case typeFloat64:
			vals[i] = record.FloatVal(f.ToFloat())
		case typeBool:
			vals[i] = record.BoolVal(f.ToBoolean())
		default:
			vals[i] = record.Str(f.String())
		}
	}
	return &record.Record{Schema: h.schema, Values: vals}, nil
}

// pipeline runs the benchmark's CSV through T to CSV.
func (h *handGoja) pipeline() error {
	l := newCSVLoader(benchData)
	s := &csvSink{}
	out := make([]*record.Record, 0, 1000)
	for {
		recs, err := l.Load(nil, 1000)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		out = out[:0]
		for _, r := range recs {
			rec, err := h.transform(r)
			if err != nil {
				return err
			}
			if rec != nil {
				out = append(out, rec)
			}
		}
		_ = s.Consume(nil, out)
	}
}

// BenchmarkPipelineHandGoja is the hand-written goja loop over the same
// CSV in and out.
func BenchmarkPipelineHandGoja(b *testing.B) {
	h := newHandGoja()
	m := startMeter()
	for b.Loop() {
		if err := h.pipeline(); err != nil {
			b.Fatal(err)
		}
	}
	handNs["pipeline"] = m.report(b, benchRows*b.N)
}

// BenchmarkPipelineJS is the batch engine with the js processor: the
// same CSV in and out, at concurrency 1 and 2; x-hand is its time over
// BenchmarkPipelineHandGoja's (which runs on one core).
func BenchmarkPipelineJS(b *testing.B) {
	for _, conc := range []int{1, 2} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			p := newProc(b, standardJS, nil, nil)
			m := startMeter()
			for b.Loop() {
				l := newCSVLoader(benchData)
				_, err := batch.Run[*record.Record, *record.Record](context.Background(), l, p, &csvSinks{},
					batch.Options[*record.Record]{ChunkSize: 1000, Concurrency: conc})
				if err != nil {
					b.Fatal(err)
				}
			}
			reportVsHand(b, "pipeline", m.report(b, benchRows*b.N))
		})
	}
}

// csvSinks encodes per chunk (each worker its own buffer).
type csvSinks struct{}

func (csvSinks) Consume(c *batch.Chunk, items []*record.Record) error {
	s := &csvSink{}
	return s.Consume(c, items)
}

// benchRecords are typed records in memory, for the micro-benchmarks.
func benchRecords(n int) []*record.Record {
	l := newCSVLoader(benchCSV(n))
	recs, err := l.Load(nil, n)
	if err != nil {
		panic(err)
	}
	return recs
}

// BenchmarkCallGoToJS is the cost of one call from Go into a JS function.
func BenchmarkCallGoToJS(b *testing.B) {
	r := newRT(&host{main: &unit{}, schemas: &record.Schemas{}}, newWatchdog(nil, time.Minute))
	v, _ := r.vm.RunString(`(function(x) { return x; })`)
	fn, _ := goja.AssertFunction(v)
	arg := r.vm.ToValue(1)
	m := startMeter()
	for b.Loop() {
		if _, err := r.call(fn, goja.Undefined(), arg); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, b.N)
}

// BenchmarkItemExposure is the cost of handing a record to JS and reading
// its fields there (the three fields the transform reads), against an
// eager copy into a new object.
func BenchmarkItemExposure(b *testing.B) {
	recs := benchRecords(1000)
	for _, mode := range []string{"lazy", "eager"} {
		b.Run(mode, func(b *testing.B) {
			r := newRT(&host{main: &unit{}, schemas: &record.Schemas{}}, nil)
			v, _ := r.vm.RunString(`(function(item) { return item.amount > 10 && item.currency.length > 0 && item.id > 0; })`)
			fn, _ := goja.AssertFunction(v)
			m := startMeter()
			i := 0
			for b.Loop() {
				rec := recs[i%len(recs)]
				i++
				var obj goja.Value
				if mode == "lazy" {
					obj = r.newItem(rec)
				} else {
					o := r.vm.NewObject()
					for j, f := range rec.Schema.Fields {
						_ = o.Set(f.Name, r.toJS(rec.Values[j]))
					}
					obj = o
				}
				if _, err := fn(goja.Undefined(), obj); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b, b.N)
		})
	}
}

// BenchmarkResultConversion is the cost of reading a returned object of
// eight fields back into a record (schema from the shape cache).
func BenchmarkResultConversion(b *testing.B) {
	recs := benchRecords(1)
	r := newRT(&host{main: &unit{}, schemas: &record.Schemas{}}, nil)
	v, err := r.vm.RunString(`({ id: 1, account: "ACC00001", amount: 12.5, currency: "eur", date: "2026-11-01", memo: "payment 1", cents: 1250, big: false })`)
	if err != nil {
		b.Fatal(err)
	}
	o := v.(*goja.Object)
	m := startMeter()
	for b.Loop() {
		if _, err := r.objectRecord(o, recs[0]); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, b.N)
}

// perRecordTransforms are T written the ways flows write it: with the
// amount as a number or as an exact decimal (as bench/batch.go's js and
// js-multiline), the literal opening on the line of its first key or not.
var perRecordTransforms = []struct{ name, code string }{
	{"number", standardJS},
	{"number-multiline", `
if (item.amount < 10) return;          // nothing returned: filtered
return {
  ...item,
  cents:    Math.round(item.amount * 100),
  currency: item.currency.toLowerCase(),
  big:      item.amount > 5000,
};`},
	{"number-keys", `
if (item.amount < 10) return;
return { id:   item.id,
  account:  item.account,
  cents:    Math.round(item.amount * 100),
  currency: item.currency.toLowerCase(),
  big:      item.amount > 5000,
};`},
	{"decimal", "\n" + gen.JSTransform},
	{"decimal-multiline", "\n" + gen.JSTransformMultiline},
	{"emit", `
if (item.amount < 10) return;
emit({
  ...item,
  cents:    Math.round(item.amount * 100),
  currency: item.currency.toLowerCase(),
  big:      item.amount > 5000,
});`},
}

// handNs holds the hand-written loops' CPU ns per record, measured by
// their benchmarks (or, when those were not selected, on first need), so
// that the engine's benchmarks print their ratio of CPU time to them as
// x-hand.
var handNs = map[string]float64{}

func reportVsHand(b *testing.B, ref string, perRecord float64) {
	h, ok := handNs[ref]
	if !ok {
		// Not measured in this run (testing.Benchmark cannot run inside
		// a benchmark): measure it now.
		hg := newHandGoja()
		m := startMeter()
		n := benchRows
		if ref == "loop" {
			recs := benchRecords(1000)
			for i := 0; i < n; i++ {
				_, _ = hg.transform(recs[i%len(recs)])
			}
		} else {
			_ = hg.pipeline()
		}
		h = float64((cpuTime() - m.cpu).Nanoseconds()) / float64(n)
		handNs[ref] = h
	}
	if h > 0 && perRecord > 0 {
		b.ReportMetric(perRecord/h, "x-hand")
	}
}

// BenchmarkHandLoopPerRecord is the hand-written loop per record, the
// reference of BenchmarkProcessorPerRecord.
func BenchmarkHandLoopPerRecord(b *testing.B) {
	recs := benchRecords(1000)
	h := newHandGoja()
	m := startMeter()
	i := 0
	for b.Loop() {
		if _, err := h.transform(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	handNs["loop"] = m.report(b, b.N)
}

// BenchmarkProcessorPerRecord is the full processor per record (item
// exposure, the call, the result), without the CSV and the engine, for
// each way of writing T; x-hand is its time over the hand-written loop's.
func BenchmarkProcessorPerRecord(b *testing.B) {
	recs := benchRecords(1000)
	for _, tr := range perRecordTransforms {
		b.Run(tr.name, func(b *testing.B) {
			p := newProc(b, tr.code, map[string]cty.Value{}, nil).(*processor)
			task := &batch.Task{Context: context.Background(), Concurrency: 1}
			_ = p.Setup(task)
			c := &batch.Chunk{Task: task}
			n := 0
			emit := func(*record.Record) { n++ }
			m := startMeter()
			i := 0
			for b.Loop() {
				if err := p.Process(c, recs[i%len(recs)], emit); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportVsHand(b, "loop", m.report(b, b.N))
		})
	}
}

// BenchmarkEngineJS is the batch engine with the js processor over records
// already in memory (no CSV): the JavaScript's share, at concurrency 1
// and 2.
func BenchmarkEngineJS(b *testing.B) {
	recs := benchRecords(200_000)
	for _, conc := range []int{1, 2} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			p := newProc(b, standardJS, nil, nil)
			m := startMeter()
			for b.Loop() {
				_, err := batch.Run[*record.Record, *record.Record](context.Background(), &memLoader{recs: recs}, p, &csvSinks{},
					batch.Options[*record.Record]{ChunkSize: 1000, Concurrency: conc})
				if err != nil {
					b.Fatal(err)
				}
			}
			m.report(b, len(recs)*b.N)
		})
	}
}
