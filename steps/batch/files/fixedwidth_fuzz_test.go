package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// fixedFuzzModels are the file models the fuzz target reads its input
// with: text with a header and trailer, binary, the two golden models,
// and binary fields with a two-byte separator.
func fixedFuzzModels(t testing.TB) []*FixedFormat {
	srcs := []string{fixedTextModel, fixedBinModel, fixedTestdata(t, "bank.hcl"), fixedTestdata(t, "trades.hcl"), `
record_separator = "\r\n"
header { fields = [{ name = "n", codec = "uint8" }] }
body { fields = [{ name = "id", codec = "int16le" }, { name = "s", length = 2, type = "int" }] }
trailer { fields = [{ name = "c", codec = "uint16be", check = "count" }, { name = "t", length = 3, type = "int", sum_of = "s" }] }
`}
	var out []*FixedFormat
	for _, src := range srcs {
		ff, err := FixedFormatFromConfig(fixedHCLConfig(t, "", "reader", `path = "x"`+src))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ff)
	}
	return out
}

var (
	fixedWhereRE = regexp.MustCompile(`^in\.dat@\d+ \(record \d+\)$`)
	fixedErrRE   = regexp.MustCompile(`in\.dat@\d+`)
)

// FuzzFixedReader reads arbitrary bytes with each model: it must not
// panic or hang, every skipped record must carry its byte offset and
// record number, and every error that fails the read its byte offset.
func FuzzFixedReader(f *testing.F) {
	models := fixedFuzzModels(f)
	f.Add(uint8(0), []byte(fixedBankRecords(3)))
	f.Add(uint8(1), []byte("\x00\x01abc\x12\x3c\xff\xfexyz\x00\x1d"))
	f.Add(uint8(2), []byte(fixedTestdata(f, "bank.dat")))
	f.Add(uint8(3), []byte(fixedTestdata(f, "trades.bin")))
	f.Add(uint8(4), []byte("\x02\r\n\x01\x0012\r\n\x02\x0034\r\n\x00\x02 46\r\n"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		ff := models[int(which)%len(models)]
		dir := t.TempDir()
		path := filepath.Join(dir, "in.dat")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := NewFixedReader(path, "in.dat", ff, nil)
		defer r.Close()
		skips := &fixedSkips{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cnt, err := batch.Run[*record.Record, *record.Record](ctx, r, fixedIdentity(),
			batch.ConsumerFunc[*record.Record](func(*batch.Chunk, []*record.Record) error { return nil }),
			batch.Options[*record.Record]{ChunkSize: 3, Skip: batch.SkipPolicy{Limit: 1 << 40, Log: skips.log}})
		if ctx.Err() != nil {
			t.Fatalf("the read did not end: %v", err)
		}
		if err != nil && !fixedErrRE.MatchString(err.Error()) {
			t.Errorf("error without a byte offset: %v", err)
		}
		for _, sk := range skips.list {
			if !fixedWhereRE.MatchString(sk.Where) {
				t.Errorf("skipped record without its position: %q (%v)", sk.Where, sk.Err)
			}
		}
		if err == nil {
			// Every body record is either read or skipped; the offsets add
			// up to the file.
			if done, total := r.Size(); done != total {
				t.Errorf("read %d of %d bytes", done, total)
			}
			if cnt.ReadSkip != int64(len(skips.list)) {
				t.Errorf("read_skip %d, %d skipped", cnt.ReadSkip, len(skips.list))
			}
		}
	})
}

// BenchmarkFixedRead reads a 100,000-record file: text (42-byte records
// with a decimal, strings and a trailer checked by count and sum) and
// binary (35-byte records with integers, floats and packed decimals).
func BenchmarkFixedRead(b *testing.B) {
	const n = 100_000
	for _, kind := range []string{"text", "binary"} {
		b.Run(kind, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "in.dat")
			ff := fixedBenchFile(b, kind, path, n)
			st, _ := os.Stat(path)
			b.SetBytes(st.Size())
			runtime.GC() // the garbage of making the file
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				r := NewFixedReader(path, "in.dat", ff, nil)
				got := 0
				for {
					recs, err := r.Load(nil, 1000)
					if err != nil {
						b.Fatal(err)
					}
					if len(recs) == 0 {
						break
					}
					got += len(recs)
				}
				r.Close()
				if got != n {
					b.Fatalf("read %d records", got)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkFixedWrite writes 100,000 records through the engine.
func BenchmarkFixedWrite(b *testing.B) {
	const n = 100_000
	for _, kind := range []string{"text", "binary"} {
		b.Run(kind, func(b *testing.B) {
			src := filepath.Join(b.TempDir(), "in.dat")
			ff := fixedBenchFile(b, kind, src, n)
			r := NewFixedReader(src, "", ff, nil)
			k, _, err := fixedReadAll(b, r, batch.Options[*record.Record]{})
			if err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(b.TempDir(), "out.dat")
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				w, err := NewFixedWriter(out, "", ff, FixedWriterOptions{HeaderValues: fixedBenchHeader(kind)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := fixedWriteAll(b, w, k.got, batch.Options[*record.Record]{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

func fixedBenchHeader(kind string) map[string]record.Value {
	if kind == "text" {
		return map[string]record.Value{"bank": record.Str("B001"), "date": record.Str("20261120")}
	}
	return map[string]record.Value{"version": record.IntVal(3), "created": record.IntVal(1700000000)}
}

// fixedBenchFile writes n records of the bank or trades model to path.
func fixedBenchFile(b *testing.B, kind, path string, n int) *FixedFormat {
	model := map[string]string{"text": "bank.hcl", "binary": "trades.hcl"}[kind]
	ff, err := FixedFormatFromConfig(fixedHCLConfig(b, "", "reader", `path = "x"`+fixedTestdata(b, model)))
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	var rows [][]record.Value
	for i := 0; i < n; i++ {
		if kind == "text" {
			names = []string{"account", "name", "amount", "currency"}
			rows = append(rows, []record.Value{record.Str(fmt.Sprintf("%010d", i)), record.Str(fmt.Sprintf("CUSTOMER %d", i%977)),
				record.Dec(int64(i%100000-50000), 2), record.Str("EUR")})
		} else {
			names = []string{"id", "symbol", "qty", "price", "fee", "flag", "side", "amount", "rate"}
			rows = append(rows, []record.Value{record.IntVal(int64(i)), record.Str("SYM"), record.IntVal(int64(i % 1000)), record.FloatVal(float64(i) / 8),
				record.Dec(int64(i%5000), 4), record.BoolVal(i%2 == 0), record.BoolVal(i%3 == 0), record.Dec(int64(i%1000000), 2), record.FloatVal(0.5)})
		}
	}
	w, err := NewFixedWriter(path, "", ff, FixedWriterOptions{HeaderValues: fixedBenchHeader(kind)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fixedWriteAll(b, w, fixedRecords(b, names, rows...), batch.Options[*record.Record]{}); err != nil {
		b.Fatal(err)
	}
	return ff
}
