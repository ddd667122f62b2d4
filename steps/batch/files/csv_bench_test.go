package files

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

const benchRows = 100_000

// benchCSV writes the benchmark's input: a header and benchRows rows of
// id (int), account (ACC000123), amount (2 decimals), currency, an RFC
// 3339 timestamp and a memo of 20 to 40 characters.
func benchCSV(b *testing.B) (dir string) { return benchCSVFile(b, false) }

// benchCSVFile writes bench.csv; with quoted, every memo is quoted and
// holds a comma.
func benchCSVFile(b *testing.B, quoted bool) (dir string) {
	b.Helper()
	dir = b.TempDir()
	rng := rand.New(rand.NewPCG(42, 42))
	currencies := []string{"EUR", "USD", "GBP", "JPY", "CHF"}
	const letters = "abcdefghijklmnopqrstuvwxyz     "
	var sb strings.Builder
	sb.WriteString("id,account,amount,currency,ts,memo\n")
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	memo := make([]byte, 40)
	for i := 1; i <= benchRows; i++ {
		n := 20 + rng.IntN(21)
		for j := 0; j < n; j++ {
			memo[j] = letters[rng.IntN(len(letters))]
		}
		memo[0], memo[n-1] = 'm', 'o' // no leading or trailing space
		m := string(memo[:n])
		if quoted {
			m = `"` + m[:n/2] + "," + m[n/2:] + `"`
		}
		fmt.Fprintf(&sb, "%d,ACC%06d,%d.%02d,%s,%s,%s\n", i, rng.IntN(1e6), rng.IntN(100000), rng.IntN(100),
			currencies[rng.IntN(len(currencies))], t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339), m)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.csv"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// reportRecords reports records/s; with the CPU time taken since start
// (of every thread: parsing and the garbage collector), also CPU-ms/op,
// which other loads of the machine disturb less than the wall clock.
func reportRecords(b *testing.B, perOp int, cpu0 time.Duration) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu0 >= 0 {
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
	}
}

// cpuTime is the process's user and system CPU time (-1 if unknown).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkCSVRead(b *testing.B) {
	var dir string
	var fi os.FileInfo
	ours := func(b *testing.B, attrs map[string]cty.Value) {
		b.SetBytes(fi.Size())
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			a := map[string]cty.Value{"path": cty.StringVal("bench.csv")}
			for k, v := range attrs {
				a[k] = v
			}
			r, err := newCSVReader(testConfig(dir, "csv", a))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				recs, err := r.Load(&batch.Chunk{}, 1000)
				if err != nil {
					b.Fatal(err)
				}
				if len(recs) == 0 {
					break
				}
				n += len(recs)
			}
			r.Close()
			if n != benchRows {
				b.Fatalf("%d records", n)
			}
		}
		reportRecords(b, benchRows, cpu0)
	}
	std := func(b *testing.B, reuse bool) {
		b.SetBytes(fi.Size())
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			f, err := os.Open(filepath.Join(dir, "bench.csv"))
			if err != nil {
				b.Fatal(err)
			}
			cr := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
			cr.ReuseRecord = reuse
			n := 0
			for {
				_, err := cr.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			f.Close()
			if n != benchRows+1 {
				b.Fatalf("%d records", n)
			}
		}
		reportRecords(b, benchRows, cpu0)
	}
	dir = benchCSVFile(b, true)
	fi, _ = os.Stat(filepath.Join(dir, "bench.csv"))
	b.Run("quoted/flowbatch", func(b *testing.B) { ours(b, nil) })
	b.Run("quoted/encoding-csv", func(b *testing.B) { std(b, false) })
	dir = benchCSV(b)
	fi, _ = os.Stat(filepath.Join(dir, "bench.csv"))
	b.Run("flowbatch", func(b *testing.B) { ours(b, nil) })
	b.Run("encoding-csv", func(b *testing.B) { std(b, false) })
	b.Run("encoding-csv-reuse-record", func(b *testing.B) { std(b, true) })
	b.Run("encoding-csv-to-records", func(b *testing.B) {
		// What a reader built on encoding/csv would cost: the same records,
		// made from its fields as cheaply as ours are.
		b.SetBytes(fi.Size())
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			f, err := os.Open(filepath.Join(dir, "bench.csv"))
			if err != nil {
				b.Fatal(err)
			}
			cr := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
			cr.ReuseRecord = true
			hdr, err := cr.Read()
			if err != nil {
				b.Fatal(err)
			}
			schema, err := record.Names(append([]string(nil), hdr...)...)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			var recSlab []record.Record
			var valSlab []record.Value
			out := make([]*record.Record, 0, 1000)
			for {
				row, err := cr.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if len(recSlab) == 0 {
					recSlab, valSlab = make([]record.Record, 64), make([]record.Value, 64*len(hdr))
				}
				rec := &recSlab[0]
				recSlab = recSlab[1:]
				rec.Schema, rec.Values, valSlab = schema, valSlab[:len(row):len(row)], valSlab[len(row):]
				for i, s := range row {
					rec.Values[i] = record.Str(s)
				}
				line, _ := cr.FieldPos(0)
				rec.Source, rec.Line, rec.Offset = "bench.csv", int64(line), cr.InputOffset()
				if out = append(out, rec); len(out) == cap(out) {
					out = make([]*record.Record, 0, 1000)
				}
				n++
			}
			f.Close()
			if n != benchRows {
				b.Fatalf("%d records", n)
			}
		}
		reportRecords(b, benchRows, cpu0)
	})
	b.Run("flowbatch-typed", func(b *testing.B) {
		ours(b, map[string]cty.Value{"schema": strMap("id", "int", "amount", "decimal", "ts", "timestamp")})
	})
}

func BenchmarkCSVWrite(b *testing.B) {
	dir := benchCSV(b)
	r, err := newCSVReader(testConfig(dir, "csv", map[string]cty.Value{"path": cty.StringVal("bench.csv"),
		"schema": strMap("id", "int", "amount", "decimal", "ts", "timestamp")}))
	if err != nil {
		b.Fatal(err)
	}
	var recs []*record.Record
	for {
		got, err := r.Load(&batch.Chunk{}, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		recs = append(recs, got...)
	}
	r.Close()
	out := filepath.Join(b.TempDir(), "out.csv")
	b.Run("flowbatch", func(b *testing.B) {
		// The whole batch: engine, writer, commit per chunk of 1000.
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			w, err := newCSVWriter(testConfig("", "csv", map[string]cty.Value{"path": cty.StringVal(out)}))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := batch.Run[*record.Record, *record.Record](context.Background(), &sliceLoader{recs: recs}, passRecords, w,
				batch.Options[*record.Record]{ChunkSize: 1000}); err != nil {
				b.Fatal(err)
			}
			w.Close()
		}
		reportRecords(b, len(recs), cpu0)
	})
	stdWrite := func(b *testing.B, row func(i int, dst []string) []string) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		var fields []string
		for b.Loop() {
			f, err := os.Create(out)
			if err != nil {
				b.Fatal(err)
			}
			bw := bufio.NewWriterSize(f, 64<<10)
			cw := csv.NewWriter(bw)
			_ = cw.Write([]string{"id", "account", "amount", "currency", "ts", "memo"})
			for i := range recs {
				fields = row(i, fields[:0])
				_ = cw.Write(fields)
			}
			cw.Flush()
			if err := cw.Error(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		reportRecords(b, len(recs), cpu0)
	}
	b.Run("encoding-csv-from-records", func(b *testing.B) {
		// encoding/csv fed the same records, each value made text.
		stdWrite(b, func(i int, dst []string) []string {
			for _, v := range recs[i].Values {
				dst = append(dst, v.Text())
			}
			return dst
		})
	})
	b.Run("encoding-csv-strings", func(b *testing.B) {
		// encoding/csv given the rows as text already: a lower bound.
		rows := make([][]string, len(recs))
		for i, rec := range recs {
			rows[i] = rowOf(rec)
		}
		stdWrite(b, func(i int, dst []string) []string { return rows[i] })
	})
}
