package main

// Micro-benchmarks of the hot paths the harness's workloads run through
// that have none in their own packages: the chunk engine alone (records
// in memory, T, a consumer that drops them), with and without partitions,
// and record conversion (text to typed values and back). The others are
// listed in docs/performance.md.
//
//	go test ./bench -run '^$' -bench . -benchmem -count 10 > new.txt
//	benchstat old.txt new.txt

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"testing"

	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

const microRecords = 100_000

// microInput is the standard input as typed records (amount decimal),
// made once.
var microInput = func() []*record.Record {
	var b bytes.Buffer
	if err := gen.WriteCSV(&b, microRecords, 1); err != nil {
		panic(err)
	}
	r := csv.NewReader(&b)
	head, err := r.Read()
	if err != nil {
		panic(err)
	}
	fields := make([]record.Field, len(head))
	for i, h := range head {
		fields[i] = record.Field{Name: h, Kind: record.String}
		if h == "amount" {
			fields[i].Kind = record.Decimal
		}
	}
	s, err := record.NewSchema(fields...)
	if err != nil {
		panic(err)
	}
	var out []*record.Record
	for line := int64(2); ; line++ {
		row, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			panic(err)
		}
		rec := &record.Record{Schema: s, Values: make([]record.Value, len(row)), Source: "in.csv", Line: line}
		for i, f := range row {
			if rec.Values[i], err = record.Parse(fields[i].Kind, f); err != nil {
				panic(err)
			}
		}
		out = append(out, rec)
	}
}()

// sliceLoader hands out records from a slice.
type sliceLoader struct {
	recs []*record.Record
	next int
}

func (l *sliceLoader) Load(_ *batch.Chunk, max int) ([]*record.Record, error) {
	n := min(max, len(l.recs)-l.next)
	out := l.recs[l.next : l.next+n]
	l.next += n
	return out, nil
}

type dropConsumer struct{}

func (dropConsumer) Consume(*batch.Chunk, []*record.Record) error { return nil }

// BenchmarkEngine runs T over records in memory through batch.Run: what
// the engine itself costs per record (ns/op is per record).
func BenchmarkEngine(b *testing.B) {
	// The key as the batch step's partition_by makes it.
	key := func(r *record.Record) (string, error) {
		v, _ := r.Get("account")
		return v.Text(), nil
	}
	for _, c := range []struct {
		name string
		conc int
		part bool
	}{{"c1", 1, false}, {"c2", 2, false}, {"c2-part", 2, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			opts := batch.Options[*record.Record]{ChunkSize: 1000, Concurrency: c.conc}
			if c.part {
				opts.PartitionBy = key
			}
			var done int
			for b.Loop() {
				l := &sliceLoader{recs: microInput}
				cnt, err := batch.Run[*record.Record, *record.Record](context.Background(), l,
					batch.ProcessorFunc[*record.Record, *record.Record](gen.Process), dropConsumer{}, opts)
				if err != nil {
					b.Fatal(err)
				}
				if cnt.Read != microRecords {
					b.Fatalf("read %d", cnt.Read)
				}
				done += microRecords
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(done), "ns/record")
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkRecordConvert converts the fields of the standard input from
// text to typed values (as a reader with a schema does) and back to text
// (as a writer does).
func BenchmarkRecordConvert(b *testing.B) {
	cases := []struct {
		name string
		kind record.Kind
		text string
	}{
		{"string", record.String, "ACC004217"},
		{"int", record.Int, "1234567"},
		{"decimal", record.Decimal, "1234.56"},
		{"timestamp", record.Time, "2026-11-20T00:00:03Z"},
	}
	for _, c := range cases {
		b.Run("parse/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := record.Parse(c.kind, c.text); err != nil {
					b.Fatal(err)
				}
			}
		})
		v, err := record.Parse(c.kind, c.text)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("text/"+c.name, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			for b.Loop() {
				buf = v.AppendText(buf[:0])
			}
		})
	}
	b.Run("transform", func(b *testing.B) {
		// T on one record: the Go processor of the workloads.
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := gen.Transform(microInput[i%len(microInput)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
