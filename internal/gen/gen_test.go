package gen_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/internal/flowtest"
	"github.com/flowbatch/flow/internal/gen"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

func generate(t testing.TB, n int, seed int64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gen.WriteCSV(&b, n, seed); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeterministic(t *testing.T) {
	a, b := generate(t, 2000, 7), generate(t, 2000, 7)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different files")
	}
	if bytes.Equal(a, generate(t, 2000, 8)) {
		t.Error("different seeds gave the same file")
	}
	// A longer file starts with the shorter one.
	if long := generate(t, 3000, 7); !bytes.HasPrefix(long, a) {
		t.Error("3000 rows do not start with the 2000 of the same seed")
	}
	if got := string(generate(t, 0, 1)); got != "id,account,amount,currency,ts,memo\n" {
		t.Errorf("no rows: %q", got)
	}
}

// The rows have the shape the package documents.
func TestShape(t *testing.T) {
	const n = 20000
	data := generate(t, n, 1)
	r := csv.NewReader(bytes.NewReader(data))
	head, err := r.Read()
	if err != nil || strings.Join(head, ",") != strings.Join(gen.Header, ",") {
		t.Fatalf("header %v (%v)", head, err)
	}
	account := regexp.MustCompile(`^ACC\d{6}$`)
	amount := regexp.MustCompile(`^\d+\.\d\d$`)
	memo := regexp.MustCompile(`^[A-Za-z][A-Za-z ,]*[A-Za-z]$`)
	currencies := map[string]bool{}
	for _, c := range gen.Currencies {
		currencies[c] = true
	}
	var small, big, edgeLow, edgeHigh, commas int
	accounts := map[string]bool{}
	prev := gen.Start
	for i := 1; ; i++ {
		row, err := r.Read()
		if err == io.EOF {
			if i != n+1 {
				t.Fatalf("%d rows, want %d", i-1, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		line, _ := r.FieldPos(0)
		if row[0] != strconv.Itoa(i) {
			t.Fatalf("line %d: id %s", line, row[0])
		}
		if !account.MatchString(row[1]) {
			t.Fatalf("line %d: account %q", line, row[1])
		}
		accounts[row[1]] = true
		if !amount.MatchString(row[2]) {
			t.Fatalf("line %d: amount %q", line, row[2])
		}
		d, err := record.ParseDecimal(row[2])
		if err != nil {
			t.Fatal(err)
		}
		units, _, _ := d.Decimal()
		switch {
		case units < 1000:
			small++
		case units == 1000:
			edgeLow++
		case units == 500000:
			edgeHigh++
		case units > 500000:
			big++
		}
		if !currencies[row[3]] {
			t.Fatalf("line %d: currency %q", line, row[3])
		}
		ts, err := time.Parse(time.RFC3339, row[4])
		if err != nil || !ts.After(prev) {
			t.Fatalf("line %d: ts %q after %s (%v)", line, row[4], prev, err)
		}
		prev = ts
		if len(row[5]) < 20 || len(row[5]) > 40 || !memo.MatchString(row[5]) {
			t.Fatalf("line %d: memo %q", line, row[5])
		}
		if strings.Contains(row[5], ",") {
			commas++
		}
	}
	t.Logf("%d rows: %d below 10, %d above 5000, %d at 10.00, %d at 5000.00, %d memos with a comma, %d accounts",
		n, small, big, edgeLow, edgeHigh, commas, len(accounts))
	for name, c := range map[string]int{"below 10": small, "above 5000": big, "at 10.00": edgeLow, "at 5000.00": edgeHigh, "with a comma": commas} {
		if c < n/200 {
			t.Errorf("only %d rows %s", c, name)
		}
	}
	if len(accounts) < gen.Accounts*8/10 {
		t.Errorf("only %d accounts", len(accounts))
	}
	if !bytes.Contains(data, []byte(`,"`)) {
		t.Error("no quoted memo")
	}
}

// csvRecords reads CSV text into records of a schema typed like a csv
// reader with schema = { amount = "decimal" } makes them.
func csvRecords(t testing.TB, data []byte) []*record.Record {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	var out []*record.Record
	for {
		row, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		line, _ := r.FieldPos(0)
		rec := &record.Record{Schema: s, Values: make([]record.Value, len(row)), Source: "in.csv", Line: int64(line)}
		for i, f := range row {
			if rec.Values[i], err = record.Parse(fields[i].Kind, f); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, rec)
	}
}

// writeRecords writes records as CSV with their values' text.
func writeRecords(t testing.TB, header []string, recs []*record.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(header)
	row := make([]string, len(header))
	for _, r := range recs {
		for i, v := range r.Values {
			row[i] = v.Text()
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Transform over records and Baseline over strings agree, byte for byte.
func TestTransformMatchesBaseline(t *testing.T) {
	data := generate(t, 20000, 3)
	var base bytes.Buffer
	n, err := gen.Baseline(bytes.NewReader(data), &base)
	if err != nil {
		t.Fatal(err)
	}
	if n != 20000 {
		t.Errorf("baseline read %d records", n)
	}
	var kept []*record.Record
	in := csvRecords(t, data)
	for _, r := range in {
		out, err := gen.Transform(r)
		if err != nil {
			t.Fatalf("%s: %v", r.Where(), err)
		}
		if out == nil {
			continue
		}
		if out.Schema != gen.OutSchema {
			t.Fatal("an output record has a schema of its own")
		}
		if out.Where() != r.Where() {
			t.Errorf("output at %q, input at %q", out.Where(), r.Where())
		}
		kept = append(kept, out)
	}
	got := writeRecords(t, gen.OutHeader, kept)
	if !bytes.Equal(got, base.Bytes()) {
		t.Errorf("Transform and Baseline differ:\n%s\n---\n%s", head(got), head(base.Bytes()))
	}
	dropped := len(in) - len(kept)
	if dropped == 0 || len(kept) == 0 {
		t.Errorf("%d kept, %d dropped", len(kept), dropped)
	}
}

func head(b []byte) string {
	lines := strings.SplitN(string(b), "\n", 6)
	return strings.Join(lines[:min(5, len(lines))], "\n")
}

func TestTransform(t *testing.T) {
	typed, _ := record.NewSchema(record.Field{Name: "id", Kind: record.Int}, record.Field{Name: "account", Kind: record.String},
		record.Field{Name: "amount", Kind: record.Decimal}, record.Field{Name: "currency", Kind: record.String})
	text, _ := record.Names("currency", "amount", "account", "id") // another order, untyped
	tests := []struct {
		name   string
		s      *record.Schema
		amount record.Value
		want   string // the output's values joined by commas; "" when dropped
		err    string
	}{
		{"plain", typed, record.Dec(123456, 2), "7,ACC1,123456,eur,false", ""},
		{"at 10", typed, record.Dec(1000, 2), "7,ACC1,1000,eur,false", ""},
		{"below 10", typed, record.Dec(999, 2), "", ""},
		{"negative", typed, record.Dec(-5000, 2), "", ""},
		{"at 5000", typed, record.Dec(500000, 2), "7,ACC1,500000,eur,false", ""},
		{"above 5000", typed, record.Dec(500001, 2), "7,ACC1,500001,eur,true", ""},
		{"scale 0", typed, record.Dec(12, 0), "7,ACC1,1200,eur,false", ""},
		{"int", typed, record.IntVal(6000), "7,ACC1,600000,eur,true", ""},
		{"scale 4, whole cents", typed, record.Dec(123400, 4), "7,ACC1,1234,eur,false", ""},
		{"scale 4", typed, record.Dec(123456, 4), "", "field amount: 12.3456 has a fraction of a cent"},
		{"null", typed, record.Value{}, "", "field amount: missing"},
		{"float", typed, record.FloatVal(12.5), "", "is a float"},
		{"bool", typed, record.BoolVal(true), "", "want a decimal, got bool"},
		{"text", text, record.Str("5000.01"), "ACC1,500001,eur,true", ""},
		{"bad text", text, record.Str("12,50"), "", `field amount: invalid decimal "12,50"`},
		{"overflow", typed, record.Dec(math64, 0), "", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record.New(tt.s)
			_ = r.Set("account", record.Str("ACC1"))
			_ = r.Set("currency", record.Str("EUR"))
			_ = r.Set("amount", tt.amount)
			if tt.s == typed {
				_ = r.Set("id", record.IntVal(7))
			}
			out, err := gen.Transform(r)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tt.want == "":
				if out != nil {
					t.Fatalf("kept %v", out.Values)
				}
				return
			case out == nil:
				t.Fatal("dropped")
			}
			var parts []string
			for _, v := range out.Values {
				if !v.IsNull() {
					parts = append(parts, v.Text())
				}
			}
			if got := strings.Join(parts, ","); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if k := out.Values[2].Kind(); k != record.Int {
				t.Errorf("cents is a %s", k)
			}
			if k := out.Values[4].Kind(); k != record.Bool {
				t.Errorf("big is a %s", k)
			}
		})
	}
	// A record without the fields T needs.
	s, _ := record.Names("x")
	if _, err := gen.Transform(record.New(s)); err == nil || !strings.Contains(err.Error(), `no field "id"`) {
		t.Errorf("error %v", err)
	}
}

const math64 = 1<<63 - 1

func TestBaselineErrors(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"empty", "", "no header"},
		{"no amount column", "id,account,currency\n1,A,EUR\n", "line 1: no amount column"},
		{"bad amount", "id,account,amount,currency\n1,A,10.00,EUR\n2,B,1x,EUR\n", `line 3: field amount: invalid decimal "1x"`},
		{"fraction of a cent", "id,account,amount,currency\n1,A,10.001,EUR\n", "line 2: field amount: 10.001 has a fraction of a cent"},
		{"missing amount", "id,account,amount,currency\n1,A,,EUR\n", "line 2: field amount: missing"},
		{"lone sign", "id,account,amount,currency\n1,A,-,EUR\n", `line 2: field amount: invalid decimal "-"`},
		{"too big", "id,account,amount,currency\n1,A,99999999999999999999,EUR\n", "out of range"},
		{"short row", "id,account,amount,currency\n1,A,10\n", "record on line 2: wrong number of fields"},
		{"bad quote", "id,account,amount,currency\n1,A,\"10,EUR\n", "extraneous or missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gen.Baseline(strings.NewReader(tt.in), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
	// Amounts the baseline accepts.
	var out bytes.Buffer
	n, err := gen.Baseline(strings.NewReader("currency,amount,id,account\nEUR,10,1,A\nUSD,.5,2,B\nCHF,+5000.010,3,C\nJPY,5000.,4,D\n"), &out)
	if err != nil || n != 4 {
		t.Fatalf("%d records, %v", n, err)
	}
	if want := "id,account,cents,currency,big\n1,A,1000,eur,false\n3,C,500001,chf,true\n4,D,500000,jpy,false\n"; out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := gen.WriteCSV(io.Discard, 10000, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/record")
}

func BenchmarkBaseline(b *testing.B) {
	data := generate(b, 100000, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gen.Baseline(bytes.NewReader(data), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100000), "ns/record")
}

func BenchmarkTransform(b *testing.B) {
	recs := csvRecords(b, generate(b, 10000, 1))
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range recs {
			if _, err := gen.Transform(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// WriteFixed's file, read by reader "fixed" with FixedReaderModel (its
// trailer count and sum checked) and put through T, gives the baseline's
// output for the CSV of the same seed.
func TestFixed(t *testing.T) {
	const n, seed = 3000, 5
	var fixed bytes.Buffer
	if err := gen.WriteFixed(&fixed, n, seed); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(fixed.String(), "\n"), "\n")
	if len(lines) != n+2 {
		t.Fatalf("%d records, want %d (header, body, trailer)", len(lines), n+2)
	}
	for i, l := range lines {
		if len(l) != gen.FixedLength {
			t.Fatalf("record %d is %d bytes, want %d: %q", i+1, len(l), gen.FixedLength, l)
		}
	}
	var want bytes.Buffer
	if _, err := gen.Baseline(bytes.NewReader(generate(t, n, seed)), &want); err != nil {
		t.Fatal(err)
	}
	registerStandard.Do(func() { batch.RegisterFunc("standard", gen.ProcessorSummary, gen.Process) })
	dir := flowtest.Write(t, map[string]string{"in.dat": fixed.String(), "main.flow.hcl": `flow "fixed" {
  batch "load" {
    reader "fixed" {
      path = "in.dat"
` + gen.FixedReaderModel + `
    }
    processor "standard" {}
    writer "csv" { path = "out.csv" }
  }
}
`})
	f, diags := flowtest.LoadFile(t, filepath.Join(dir, "main.flow.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if res, _ := flowtest.RunFlow(t, t.Context(), f, nil); res.Status != flow.Completed {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the output differs from the baseline's:\n%.300s\nwant:\n%.300s", got, want.Bytes())
	}
}

var registerStandard sync.Once
