package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/flowbatch/flow/flow"
	"github.com/flowbatch/flow/steps/batch"
	"github.com/flowbatch/flow/steps/batch/record"
)

// --- helpers -------------------------------------------------------------

// fixedHCLConfig decodes src, the body of a reader or writer "fixed"
// block, with the attribute and block specs the component registered, the
// way the batch step does (constants only), and makes its Config.
func fixedHCLConfig(t testing.TB, dir, kind, src string) *batch.Config {
	t.Helper()
	var specs []flow.Attr
	var blocks []flow.BlockType
	if kind == "reader" {
		for _, rt := range batch.ReaderTypes() {
			if rt.Name == "fixed" {
				specs, blocks = rt.Attrs, rt.Blocks
			}
		}
	} else {
		for _, wt := range batch.WriterTypes() {
			if wt.Name == "fixed" {
				specs, blocks = wt.Attrs, wt.Blocks
			}
		}
	}
	if specs == nil {
		t.Fatalf("no %s \"fixed\" registered", kind)
	}
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags.Error())
	}
	attrs, cbs := fixedDecodeBody(t, f.Body, specs, blocks)
	return &batch.Config{Type: "fixed", Name: "fixed", Attrs: attrs, Blocks: cbs, Dir: dir, Step: "test"}
}

func fixedDecodeBody(t testing.TB, body hcl.Body, specs []flow.Attr, bts []flow.BlockType) (map[string]cty.Value, []*batch.ConfigBlock) {
	t.Helper()
	schema := &hcl.BodySchema{}
	for _, a := range specs {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, bt := range bts {
		schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: bt.Name, LabelNames: bt.Labels})
	}
	content, diags := body.Content(schema)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	attrs := map[string]cty.Value{}
	for _, a := range specs {
		ha := content.Attributes[a.Name]
		if ha == nil {
			if a.Default != cty.NilVal {
				attrs[a.Name] = a.Default
			} else {
				attrs[a.Name] = cty.NullVal(a.Type)
			}
			continue
		}
		v, d := ha.Expr.Value(nil)
		if d.HasErrors() {
			t.Fatalf("%s: %s", a.Name, d.Error())
		}
		if a.Type != cty.DynamicPseudoType {
			cv, err := convert.Convert(v, a.Type)
			if err != nil {
				t.Fatalf("%s: %v", a.Name, err)
			}
			v = cv
		}
		if err := flow.CheckValue(v, &a); err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		attrs[a.Name] = v
	}
	var out []*batch.ConfigBlock
	for _, b := range content.Blocks {
		var bt *flow.BlockType
		for i := range bts {
			if bts[i].Name == b.Type {
				bt = &bts[i]
			}
		}
		var bspecs []flow.Attr
		if bt.Attrs != nil {
			var err error
			if bspecs, err = bt.Attrs(b.Labels); err != nil {
				t.Fatal(err)
			}
		}
		var nested []flow.BlockType
		if bt.Blocks != nil {
			nested = bt.Blocks(b.Labels)
		}
		a, nb := fixedDecodeBody(t, b.Body, bspecs, nested)
		out = append(out, &batch.ConfigBlock{Type: b.Type, Labels: b.Labels, Attrs: a, Blocks: nb, Where: b.DefRange.String()})
	}
	return attrs, out
}

func fixedNewReader(t testing.TB, dir, src string) (batch.Reader, error) {
	t.Helper()
	cfg := fixedHCLConfig(t, dir, "reader", src)
	for _, rt := range batch.ReaderTypes() {
		if rt.Name == "fixed" {
			return rt.New(cfg)
		}
	}
	return nil, errors.New("no fixed reader")
}

func fixedNewWriter(t testing.TB, dir, src string) (batch.Writer, error) {
	t.Helper()
	cfg := fixedHCLConfig(t, dir, "writer", src)
	for _, wt := range batch.WriterTypes() {
		if wt.Name == "fixed" {
			return wt.New(cfg)
		}
	}
	return nil, errors.New("no fixed writer")
}

func fixedTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixed", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fixedIdentity() batch.RecordProcessor {
	return batch.ProcessorFunc[*record.Record, *record.Record](func(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
		emit(r)
		return nil
	})
}

// fixedCollector keeps the committed records and the task.
type fixedCollector struct {
	mu   sync.Mutex
	task *batch.Task
	got  []*record.Record
}

func (k *fixedCollector) Setup(t *batch.Task) error {
	k.task = t
	t.OnCommit(func(c *batch.Chunk) error {
		rs, _ := c.Values[k].([]*record.Record)
		k.mu.Lock()
		k.got = append(k.got, rs...)
		k.mu.Unlock()
		return nil
	})
	return nil
}

func (k *fixedCollector) Consume(c *batch.Chunk, items []*record.Record) error {
	c.Values[k] = append([]*record.Record(nil), items...)
	return nil
}

func (k *fixedCollector) value(key string) *record.Record {
	v, ok := k.task.Value(key)
	if !ok {
		return nil
	}
	return v.(*record.Record)
}

// fixedSkips records skipped items.
type fixedSkips struct {
	mu   sync.Mutex
	list []batch.Skipped
}

func (s *fixedSkips) log(sk batch.Skipped) error {
	s.mu.Lock()
	s.list = append(s.list, sk)
	s.mu.Unlock()
	return nil
}

func (s *fixedSkips) lines() []string {
	var out []string
	for _, sk := range s.list {
		out = append(out, sk.Where+" | "+sk.Err.Error())
	}
	return out
}

// fixedReadAll runs a reader through the engine and returns what it read.
func fixedReadAll(t testing.TB, r batch.Reader, opts batch.Options[*record.Record]) (*fixedCollector, batch.Counters, error) {
	t.Helper()
	k := &fixedCollector{}
	cnt, err := batch.Run[*record.Record, *record.Record](context.Background(), r, fixedIdentity(), k, opts)
	if c, ok := r.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	return k, cnt, err
}

func fixedJSONLines(t testing.TB, recs []*record.Record) string {
	t.Helper()
	var b []byte
	for _, r := range recs {
		var err error
		if b, err = record.AppendRecordJSON(b, r); err != nil {
			t.Fatal(err)
		}
		b = append(b, '\n')
	}
	return string(b)
}

// fixedSlice loads records from a slice and can seek.
type fixedSlice struct {
	recs []*record.Record
	next int
}

func (l *fixedSlice) Load(c *batch.Chunk, max int) ([]*record.Record, error) {
	n := min(max, len(l.recs)-l.next)
	out := l.recs[l.next : l.next+n]
	l.next += n
	return out, nil
}

func (l *fixedSlice) Position() ([]byte, error) { return []byte(strconv.Itoa(l.next)), nil }

func (l *fixedSlice) Seek(p []byte) error {
	n, err := strconv.Atoi(string(p))
	l.next = n
	return err
}

// fixedWriteAll writes records through w with the engine.
func fixedWriteAll(t testing.TB, w batch.Writer, recs []*record.Record, opts batch.Options[*record.Record]) (batch.Counters, error) {
	t.Helper()
	cnt, err := batch.Run[*record.Record, *record.Record](context.Background(), &fixedSlice{recs: recs}, fixedIdentity(), w, opts)
	if cerr := w.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return cnt, err
}

func fixedRecords(t testing.TB, names []string, rows ...[]record.Value) []*record.Record {
	t.Helper()
	s, err := record.Names(names...)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*record.Record, len(rows))
	for i, row := range rows {
		out[i] = &record.Record{Schema: s, Values: row, Line: int64(i + 1), Source: "mem"}
	}
	return out
}

func fixedDec(t testing.TB, s string) record.Value {
	t.Helper()
	v, err := record.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// --- golden files ---------------------------------------------------------

func TestFixedGolden(t *testing.T) {
	for _, name := range []string{"bank", "trades"} {
		t.Run(name, func(t *testing.T) {
			model := fixedTestdata(t, name+".hcl")
			dataFile := map[string]string{"bank": "bank.dat", "trades": "trades.bin"}[name]
			abs, _ := filepath.Abs(filepath.Join("testdata", "fixed"))
			r, err := fixedNewReader(t, abs, fmt.Sprintf("path = %q\n%s", dataFile, model))
			if err != nil {
				t.Fatal(err)
			}
			k, cnt, err := fixedReadAll(t, r, batch.Options[*record.Record]{ChunkSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fixedJSONLines(t, k.got), fixedTestdata(t, name+".json"); got != want {
				t.Errorf("records:\n%s\nwant:\n%s", got, want)
			}
			for _, part := range []string{"header", "trailer"} {
				rec := k.value(part)
				if rec == nil {
					t.Fatalf("no %s task value", part)
				}
				if got, want := fixedJSONLines(t, []*record.Record{rec}), fixedTestdata(t, name+"."+part+".json"); got != want {
					t.Errorf("%s: %s, want %s", part, got, want)
				}
			}
			if cnt.Read != int64(len(k.got)) || cnt.ReadSkip != 0 {
				t.Errorf("counters %+v", cnt)
			}
			if fr := r.(*FixedReader); fr.Header() != k.value("header") || fr.Trailer() != k.value("trailer") {
				t.Error("Header/Trailer differ from the task values")
			}
			first := k.got[0]
			if first.Source != dataFile || first.Line != 2 {
				t.Errorf("first record from %s line %d", first.Source, first.Line)
			}

			// Write the records back: the same bytes.
			out := t.TempDir()
			hv := map[string]string{
				"bank":   `header_values = { bank = "B001", date = "20261120" }`,
				"trades": `header_values = { version = 3, created = 1700000000 }`,
			}[name]
			w, err := fixedNewWriter(t, out, fmt.Sprintf("path = %q\n%s\n%s", "sub/"+dataFile, hv, model))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fixedWriteAll(t, w, k.got, batch.Options[*record.Record]{ChunkSize: 3}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(out, "sub", dataFile))
			if err != nil {
				t.Fatal(err)
			}
			if want := fixedTestdata(t, dataFile); string(got) != want {
				t.Errorf("written:\n%q\nwant:\n%q", got, want)
			}
		})
	}
}

// --- codecs and alignment ----------------------------------------------------

func TestFixedRoundTripCodecs(t *testing.T) {
	mustTime := func(s string) record.Value {
		v, err := record.Parse(record.Time, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name  string
		field FixedField
		vals  []record.Value
		want  string // the bytes of the first value, as %x for binary or text
	}{
		{"string left", FixedField{Length: 6}, []record.Value{record.Str("ab"), record.Str(""), record.Str("abcdef"), record.Str("é ü")}, "ab    "},
		{"string right star", FixedField{Length: 5, Align: "right", Pad: "*"}, []record.Value{record.Str("ab"), record.Str("abcde")}, "***ab"},
		{"int right space", FixedField{Length: 6, Kind: record.Int}, []record.Value{record.IntVal(42), record.IntVal(-42), record.IntVal(0), {}}, "    42"},
		{"int right zero", FixedField{Length: 6, Kind: record.Int, Pad: "0"}, []record.Value{record.IntVal(-42), record.IntVal(42), record.IntVal(0), record.IntVal(-99999)}, "-00042"},
		{"int left", FixedField{Length: 6, Kind: record.Int, Align: "left"}, []record.Value{record.IntVal(42), record.IntVal(-7)}, "42    "},
		{"decimal scale zero pad", FixedField{Length: 8, Kind: record.Decimal, Scale: 2, Pad: "0"},
			[]record.Value{fixedDec(t, "12.34"), fixedDec(t, "-0.05"), fixedDec(t, "0.00"), fixedDec(t, "999999.99")}, "00001234"},
		{"decimal with point", FixedField{Length: 10, Kind: record.Decimal},
			[]record.Value{fixedDec(t, "12.5"), fixedDec(t, "-0.001"), fixedDec(t, "123456789")}, "      12.5"},
		{"decimal left", FixedField{Length: 10, Kind: record.Decimal, Align: "left", Scale: 3},
			[]record.Value{fixedDec(t, "1.250"), fixedDec(t, "-3.000")}, "1250      "},
		{"float text", FixedField{Length: 10, Kind: record.Float}, []record.Value{record.FloatVal(1.5), record.FloatVal(-0.25), record.FloatVal(1e-7)}, "       1.5"},
		{"bool text", FixedField{Length: 1, Kind: record.Bool, BoolValues: [2]string{"Y", "N"}}, []record.Value{record.BoolVal(true), record.BoolVal(false)}, "Y"},
		{"bool words", FixedField{Length: 5, Kind: record.Bool}, []record.Value{record.BoolVal(false), record.BoolVal(true)}, "false"},
		{"timestamp", FixedField{Length: 16, Kind: record.Time, Format: "2006-01-02 15:04"}, []record.Value{mustTime("2026-11-20T10:30:00Z")}, "2026-11-20 10:30"},
		{"date", FixedField{Length: 8, Kind: record.Time}, []record.Value{mustTime("2026-01-31")}, "20260131"},
		{"int8", FixedField{Codec: "int8"}, []record.Value{record.IntVal(-128), record.IntVal(127), record.IntVal(0)}, "80"},
		{"uint8", FixedField{Codec: "uint8"}, []record.Value{record.IntVal(255), record.IntVal(0)}, "ff"},
		{"int16be", FixedField{Codec: "int16be"}, []record.Value{record.IntVal(258), record.IntVal(-32768), record.IntVal(32767)}, "0102"},
		{"int16le", FixedField{Codec: "int16le"}, []record.Value{record.IntVal(258), record.IntVal(-2)}, "0201"},
		{"uint16be", FixedField{Codec: "uint16be"}, []record.Value{record.IntVal(65535), record.IntVal(1)}, "ffff"},
		{"uint16le", FixedField{Codec: "uint16le"}, []record.Value{record.IntVal(1), record.IntVal(65535)}, "0100"},
		{"int32be", FixedField{Codec: "int32be"}, []record.Value{record.IntVal(-1), record.IntVal(16909060), record.IntVal(-2147483648)}, "ffffffff"},
		{"int32le", FixedField{Codec: "int32le"}, []record.Value{record.IntVal(16909060), record.IntVal(2147483647)}, "04030201"},
		{"uint32be", FixedField{Codec: "uint32be"}, []record.Value{record.IntVal(4294967295), record.IntVal(7)}, "ffffffff"},
		{"uint32le", FixedField{Codec: "uint32le"}, []record.Value{record.IntVal(16909060)}, "04030201"},
		{"int64be", FixedField{Codec: "int64be"}, []record.Value{record.IntVal(1), record.IntVal(-9223372036854775808), record.IntVal(9223372036854775807)}, "0000000000000001"},
		{"int64le", FixedField{Codec: "int64le"}, []record.Value{record.IntVal(1), record.IntVal(-5)}, "0100000000000000"},
		{"float32be", FixedField{Codec: "float32be"}, []record.Value{record.FloatVal(1.5), record.FloatVal(-0.25)}, "3fc00000"},
		{"float32le", FixedField{Codec: "float32le"}, []record.Value{record.FloatVal(1.5)}, "0000c03f"},
		{"float64be", FixedField{Codec: "float64be"}, []record.Value{record.FloatVal(1.5), record.FloatVal(-1e300)}, "3ff8000000000000"},
		{"float64le", FixedField{Codec: "float64le"}, []record.Value{record.FloatVal(1.5)}, "000000000000f83f"},
		{"int32be decimal", FixedField{Codec: "int32be", Kind: record.Decimal, Scale: 2}, []record.Value{fixedDec(t, "12.34"), fixedDec(t, "-0.01")}, "000004d2"},
		{"uint8 bool", FixedField{Codec: "uint8", Kind: record.Bool}, []record.Value{record.BoolVal(true), record.BoolVal(false)}, "01"},
		{"packed", FixedField{Codec: "packed", Length: 3, Kind: record.Int}, []record.Value{record.IntVal(12345), record.IntVal(-7), record.IntVal(0)}, "12345c"},
		{"packed decimal", FixedField{Codec: "packed", Length: 4, Scale: 2}, []record.Value{fixedDec(t, "-12.34"), fixedDec(t, "99999.99")}, "0001234d"},
	}
	for _, tc := range cases {
		for _, sep := range []string{"", "\n"} {
			t.Run(fmt.Sprintf("%s/sep%q", tc.name, sep), func(t *testing.T) {
				field := tc.field
				field.Name = "v"
				ff := &FixedFormat{Separator: sep, Body: &FixedRecord{Fields: []*FixedField{
					{Name: "tag", Length: 1, Value: ptrVal(record.Str("D"))}, &field}}}
				if err := ff.Init(); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), "f.dat")
				w, err := NewFixedWriter(path, "", ff, FixedWriterOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var rows [][]record.Value
				for _, v := range tc.vals {
					rows = append(rows, []record.Value{v})
				}
				if _, err := fixedWriteAll(t, w, fixedRecords(t, []string{"v"}, rows...), batch.Options[*record.Record]{ChunkSize: 2}); err != nil {
					t.Fatal(err)
				}
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				first := raw[1 : 1+field.Length]
				got := string(first)
				if field.codec.kind != 't' {
					got = fmt.Sprintf("%x", first)
				}
				if got != tc.want {
					t.Errorf("first value written as %q, want %q", got, tc.want)
				}
				if want := len(tc.vals) * (1 + field.Length + len(sep)); len(raw) != want {
					t.Errorf("file is %d bytes, want %d", len(raw), want)
				}
				k, _, err := fixedReadAll(t, NewFixedReader(path, "", ff, nil), batch.Options[*record.Record]{ChunkSize: 3})
				if err != nil {
					t.Fatal(err)
				}
				if len(k.got) != len(tc.vals) {
					t.Fatalf("read %d records, want %d", len(k.got), len(tc.vals))
				}
				for i, want := range tc.vals {
					got, _ := k.got[i].Get("v")
					if !got.Equal(want) || got.Kind() != want.Kind() && !want.IsNull() {
						t.Errorf("value %d: read %s %q, wrote %s %q", i, got.Kind(), got.Text(), want.Kind(), want.Text())
					}
				}
			})
		}
	}
}

func ptrVal(v record.Value) *record.Value { return &v }

func TestFixedTrimAndZeros(t *testing.T) {
	cases := []struct {
		field FixedField
		text  string
		want  string // kind:text
	}{
		{FixedField{Length: 5}, "ab   ", "string:ab"},
		{FixedField{Length: 5, KeepPadding: true}, "ab   ", "string:ab   "},
		{FixedField{Length: 5, Align: "right", Pad: "0"}, "00120", "string:120"},
		{FixedField{Length: 5, Kind: record.Int}, "     ", "null:"},
		{FixedField{Length: 5, Kind: record.Int, Pad: "0"}, "00000", "int:0"},
		{FixedField{Length: 5, Kind: record.Int, Pad: "0"}, "     ", "null:"},
		{FixedField{Length: 5, Kind: record.Int}, "  -7 ", "int:-7"},
		{FixedField{Length: 5, Kind: record.Int}, "+0012", "int:12"},
		{FixedField{Length: 7, Kind: record.Decimal, Scale: 2, Pad: "0"}, "0000000", "decimal:0.00"},
		{FixedField{Length: 7, Kind: record.Decimal, Scale: 2}, "  12.5 ", "decimal:12.50"},
		{FixedField{Length: 7, Kind: record.Decimal, Scale: 2}, "-000001", "decimal:-0.01"},
		{FixedField{Length: 7, Kind: record.Decimal}, "   0.10", "decimal:0.10"},
		{FixedField{Length: 1, Kind: record.Bool, BoolValues: [2]string{"Y", "N"}}, "y", "bool:true"},
		{FixedField{Length: 8, Kind: record.Time}, "        ", "null:"},
		{FixedField{Length: 8, Kind: record.Time}, "99991231", "error:timestamp \"99991231\" is out of range (years 1678 to 2261)"},
		{FixedField{Length: 22, Kind: record.Decimal}, "0.0000000000000000001", "error:invalid decimal \"0.0000000000000000001\": 19 decimal places; at most 18"},
		{FixedField{Length: 20, Kind: record.Int}, "99999999999999999999", "error:invalid int \"99999999999999999999\": number out of range"},
		{FixedField{Length: 20, Kind: record.Int}, "-9223372036854775808", "int:-9223372036854775808"},
		{FixedField{Length: 5, Kind: record.Float}, " 1e3 ", "float:1000"},
		{FixedField{Length: 5, Kind: record.Float}, " 0x10", "error:invalid float \" 0x10\": 'x' is not part of a number"},
		{FixedField{Length: 3, Kind: record.Decimal}, " - ", "error:invalid decimal \" - \": no digits"},
	}
	for _, tc := range cases {
		f := tc.field
		f.Name = "v"
		if err := f.init(); err != nil {
			t.Fatal(err)
		}
		v, err := f.decode([]byte(tc.text))
		got := v.Kind().String() + ":" + v.Text()
		if err != nil {
			got = "error:" + err.Error()
		}
		if got != tc.want {
			t.Errorf("%q read as %s, want %s", tc.text, got, tc.want)
		}
	}
}

func TestFixedDecimalsExact(t *testing.T) {
	// 10,000 amounts of 0.01 and a few large ones: the trailer sum is exact,
	// as written and as checked when read back.
	ff := &FixedFormat{Separator: "\n",
		Body: &FixedRecord{Fields: []*FixedField{{Name: "amount", Length: 20, Kind: record.Decimal, Scale: 2, Pad: "0"}}},
		Trailer: &FixedRecord{Fields: []*FixedField{
			{Name: "n", Length: 8, Kind: record.Int, Check: "count"},
			{Name: "sum", Length: 20, Kind: record.Decimal, Scale: 2, Pad: "0", SumOf: "amount"}}}}
	if err := ff.Init(); err != nil {
		t.Fatal(err)
	}
	var rows [][]record.Value
	for i := 0; i < 10000; i++ {
		rows = append(rows, []record.Value{fixedDec(t, "0.01")})
	}
	rows = append(rows, []record.Value{fixedDec(t, "92233720368547.75")}, []record.Value{fixedDec(t, "-92233720368547.75")},
		[]record.Value{fixedDec(t, "0.1")}, []record.Value{fixedDec(t, "0.2")}, []record.Value{record.Str("1.23")}, []record.Value{record.IntVal(5)})
	path := filepath.Join(t.TempDir(), "d.dat")
	w, err := NewFixedWriter(path, "", ff, FixedWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fixedWriteAll(t, w, fixedRecords(t, []string{"amount"}, rows...), batch.Options[*record.Record]{ChunkSize: 333, Concurrency: 3}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if got, want := lines[len(lines)-1], "   10006"+"00000000000000010653"; got != want {
		t.Errorf("trailer %q, want %q (100.00 + 0.30 + 1.23 + 5.00 = 106.53)", got, want)
	}
	k, _, err := fixedReadAll(t, NewFixedReader(path, "", ff, nil), batch.Options[*record.Record]{ChunkSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	sum := fixedSum{}
	for _, r := range k.got {
		if err := sum.add(r.Values[0]); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := sum.value(); v.Text() != "106.53" {
		t.Errorf("sum read %s", v.Text())
	}
	if tr := k.value("trailer"); tr == nil || tr.Values[1].Text() != "106.53" {
		t.Errorf("trailer %v", tr)
	}
}

// --- malformed input ----------------------------------------------------------

const fixedTextModel = `
record_separator = "\n"
header {
  fields = [
    { name = "tag",  length = 1, value = "H" },
    { name = "date", length = 8, type = "timestamp" },
  ]
}
body {
  fields = [
    { name = "tag",  length = 1, value = "D" },
    { name = "name", length = 4 },
    { name = "n",    length = 4, type = "int", pad = "0" },
  ]
}
trailer {
  fields = [
    { name = "tag",   length = 1, value = "T" },
    { name = "count", length = 4, type = "int", check = "count" },
    { name = "sum",   length = 4, type = "int", sum_of = "n" },
  ]
}
`

const fixedBinModel = `
record_separator = ""
body {
  fields = [
    { name = "id",   codec = "int16be" },
    { name = "name", length = 3 },
    { name = "amt",  codec = "packed", length = 2, type = "decimal", scale = 1 },
  ]
}
`

func TestFixedMalformed(t *testing.T) {
	cases := []struct {
		name    string
		model   string
		data    string
		records int      // records read
		skips   []string // where | error, in order
		fatal   string   // the run's error, when it fails whatever the skip policy
	}{
		{name: "clean text", model: fixedTextModel,
			data:    "H20261120\nDabcd0001\nDefgh0002\nT   2   3\n",
			records: 2},
		{name: "crlf lines", model: fixedTextModel,
			data:    "H20261120\r\nDabcd0001\r\nT   1   1\r\n",
			records: 1},
		{name: "no newline at the end", model: fixedTextModel,
			data:    "H20261120\nDabcd0001\nT   1   1",
			records: 1},
		{name: "non-numeric char", model: fixedTextModel,
			data:    "H20261120\nDabcd0001\nDefgh00x2\nDijkl0003\nT   3   4\n",
			records: 2,
			skips:   []string{`in.dat@20 (record 3) | field n (bytes 6-9): invalid int "00x2": 'x' is not a digit`}},
		{name: "short and long lines", model: fixedTextModel,
			data:    "H20261120\nDabc0001\nDabcd00012\nDabcd0003\nT   3   3\n",
			records: 1,
			skips: []string{
				"in.dat@10 (record 2) | the record is 8 bytes long, a body record is 9",
				"in.dat@19 (record 3) | the record is 10 bytes long, a body record is 9"}},
		{name: "invalid utf-8", model: fixedTextModel,
			data:    "H20261120\nDab\xff\xfe0001\nDabcd0002\nT   2   2\n",
			records: 1,
			skips:   []string{`in.dat@10 (record 2) | field name (bytes 2-5): not valid UTF-8: "ab\xff\xfe"`}},
		{name: "wrong record tag", model: fixedTextModel,
			data:    "H20261120\nXabcd0001\nDabcd0002\nT   2   2\n",
			records: 1,
			skips:   []string{`in.dat@10 (record 2) | field tag (bytes 1-1): expected "D", found "X"`}},
		{name: "empty line", model: fixedTextModel,
			data:    "H20261120\n\nDabcd0002\nT   2   2\n",
			records: 1,
			skips:   []string{"in.dat@10 (record 2) | the record is 0 bytes long, a body record is 9"}},
		{name: "trailer count", model: fixedTextModel,
			data:    "H20261120\nDabcd0001\nT   2   1\n",
			records: 1,
			fatal:   "in.dat@20 (record 3, trailer): field count: the trailer counts 2 body records, the file has 1"},
		{name: "trailer sum", model: fixedTextModel,
			data:    "H20261120\nDabcd0001\nDabcd0002\nT   2   4\n",
			records: 2,
			fatal:   "in.dat@30 (record 4, trailer): field sum: the trailer says the sum of n is 4, the records add up to 3"},
		{name: "sum not checked after a skip", model: fixedTextModel,
			data:    "H20261120\nDabcd0001\nDabcd000x\nT   2   4\n",
			records: 1,
			skips:   []string{`in.dat@20 (record 3) | field n (bytes 6-9): invalid int "000x": 'x' is not a digit`}},
		{name: "missing trailer", model: fixedTextModel,
			data:    "H20261120\nDabcd0001\nDabcd0002\n",
			records: 1,
			fatal:   `in.dat@20 (record 3, trailer): field tag (bytes 1-1): expected "T", found "D"`},
		{name: "header only", model: fixedTextModel,
			data:  "H20261120\n",
			fatal: "in.dat@10: the file ends without its trailer record (after 0 body records)"},
		{name: "empty file", model: fixedTextModel,
			data:  "",
			fatal: "in.dat@0 (record 1, header): the file is empty; it should start with a header record"},
		{name: "bad header date", model: fixedTextModel,
			data:  "H2026112x\nT   0   0\n",
			fatal: `in.dat@0 (record 1, header): field date (bytes 2-9): invalid timestamp "2026112x" (layout "20060102")`},
		{name: "clean binary", model: fixedBinModel,
			data:    "\x00\x01abc\x12\x3c\xff\xfexyz\x00\x1d",
			records: 2},
		{name: "truncated last record", model: fixedBinModel,
			data:    "\x00\x01abc\x12\x3c\xff\xfexy",
			records: 1,
			skips:   []string{"in.dat@7 (record 2) | truncated record: 4 bytes, a body record is 7"}},
		{name: "bad packed digit", model: fixedBinModel,
			data:    "\x00\x01abc\x1a\x3c\x00\x02abc\x12\x3c",
			records: 1,
			skips:   []string{"in.dat@0 (record 1) | field amt (bytes 6-7): invalid packed decimal: byte 1 is 0x1a"}},
		{name: "bad packed sign", model: fixedBinModel,
			data:  "\x00\x01abc\x12\x37",
			skips: []string{"in.dat@0 (record 1) | field amt (bytes 6-7): invalid packed decimal: sign nibble 0x7"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "in.dat"), []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := fixedNewReader(t, dir, `path = "in.dat"`+tc.model)
			if err != nil {
				t.Fatal(err)
			}
			skips := &fixedSkips{}
			k, cnt, err := fixedReadAll(t, r, batch.Options[*record.Record]{ChunkSize: 1,
				Skip: batch.SkipPolicy{Limit: 10, Log: skips.log}})
			switch {
			case tc.fatal != "" && err == nil:
				t.Fatalf("no error, want %q", tc.fatal)
			case tc.fatal != "" && !strings.Contains(err.Error(), tc.fatal):
				t.Fatalf("error %q, want %q", err, tc.fatal)
			case tc.fatal == "" && err != nil:
				t.Fatal(err)
			}
			if tc.fatal != "" {
				return
			}
			if len(k.got) != tc.records {
				t.Errorf("read %d records, want %d", len(k.got), tc.records)
			}
			if got, want := strings.Join(skips.lines(), "\n"), strings.Join(tc.skips, "\n"); got != want {
				t.Errorf("skipped:\n%s\nwant:\n%s", got, want)
			}
			if cnt.ReadSkip != int64(len(tc.skips)) {
				t.Errorf("read_skip %d, want %d", cnt.ReadSkip, len(tc.skips))
			}
		})
	}
}

func TestFixedBinarySeparatorResync(t *testing.T) {
	// Binary fields with a separator: records are read by their length; a
	// record whose separator is not where it should be is skipped up to the
	// next separator.
	model := `
record_separator = "\r\n"
body {
  field "id" { codec = "uint16be" }
  field "name" { length = 2 }
}
trailer {
  field "count" {
    codec = "uint8"
    check = "count"
  }
}
`
	data := "\x00\x01ab\r\n" + "\x00\x02a\r\n" + "\x00\x03ab\r\n" + "\x00\x04abcd\r\n" + "\x00\x05ab\r\n" + "\x05\r\n"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.dat"), []byte(data), 0o644)
	r, err := fixedNewReader(t, dir, `path = "in.dat"`+model)
	if err != nil {
		t.Fatal(err)
	}
	skips := &fixedSkips{}
	k, _, err := fixedReadAll(t, r, batch.Options[*record.Record]{ChunkSize: 10, Skip: batch.SkipPolicy{Limit: 10, Log: skips.log}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rec := range k.got {
		ids = append(ids, rec.Values[0].Text())
	}
	if got := strings.Join(ids, ","); got != "1,3,5" {
		t.Errorf("read ids %s, want 1,3,5", got)
	}
	want := "in.dat@6 (record 2) | the record is 3 bytes long, a body record is 4\n" +
		"in.dat@17 (record 4) | the record is 6 bytes long, a body record is 4"
	if got := strings.Join(skips.lines(), "\n"); got != want {
		t.Errorf("skipped:\n%s\nwant:\n%s", got, want)
	}
}

// --- skip policy ----------------------------------------------------------------

func TestFixedSkipPolicy(t *testing.T) {
	data := "H20261120\nDabcd0001\nDefgh00x2\nDijkl0003\nDmnop000y\nT   4   4\n"
	cases := []struct {
		name  string
		skip  batch.SkipPolicy
		err   string
		read  int64
		skips int64
	}{
		{"no skips", batch.SkipPolicy{}, `read failed at in.dat@20 (record 3): field n (bytes 6-9): invalid int "00x2"`, 0, 0},
		{"limit 1", batch.SkipPolicy{Limit: 1}, `skip limit 1 reached: read failed at in.dat@40 (record 5): field n (bytes 6-9): invalid int "000y"`, 0, 0},
		{"limit 2", batch.SkipPolicy{Limit: 2}, "", 2, 2},
		{"not on read", batch.SkipPolicy{Limit: 5, On: []batch.Stage{batch.StageProcess}}, "read failed at in.dat@20 (record 3)", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "in.dat"), []byte(data), 0o644)
			r, err := fixedNewReader(t, dir, `path = "in.dat"`+fixedTextModel)
			if err != nil {
				t.Fatal(err)
			}
			_, cnt, err := fixedReadAll(t, r, batch.Options[*record.Record]{ChunkSize: 10, Skip: tc.skip})
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if cnt.Read != tc.read || cnt.ReadSkip != tc.skips {
				t.Errorf("read %d, read_skip %d; want %d, %d", cnt.Read, cnt.ReadSkip, tc.read, tc.skips)
			}
		})
	}
}

// --- seek and resume ----------------------------------------------------------------

func fixedBankRecords(n int) string {
	var b strings.Builder
	b.WriteString("H20261120\n")
	sum := 0
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "D%04d%04d\n", i, i%7)
		sum += i % 7
	}
	fmt.Fprintf(&b, "T%4d%4d\n", n, sum)
	return b.String()
}

func TestFixedReaderResume(t *testing.T) {
	for _, mode := range []string{"text", "binary"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			model := fixedTextModel
			data := fixedBankRecords(23)
			if mode == "binary" {
				model = fixedBinModel + `
trailer { fields = [{ name = "count", codec = "int32le", check = "count" }] }`
				var b []byte
				for i := 0; i < 23; i++ {
					b = append(b, byte(i>>8), byte(i), 'a', 'b', 'c', 0x12, 0x3c)
				}
				data = string(append(b, 23, 0, 0, 0))
			}
			os.WriteFile(filepath.Join(dir, "in.dat"), []byte(data), 0o644)
			newReader := func() batch.Reader {
				r, err := fixedNewReader(t, dir, `path = "in.dat"`+model)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			var cps []batch.Checkpoint
			full, _, err := fixedReadAll(t, newReader(), batch.Options[*record.Record]{ChunkSize: 4,
				OnCommit: func(cp batch.Checkpoint) error { cps = append(cps, cp); return nil }})
			if err != nil {
				t.Fatal(err)
			}
			if len(full.got) != 23 || len(cps) != 6 {
				t.Fatalf("%d records, %d checkpoints", len(full.got), len(cps))
			}
			for i, cp := range cps {
				k, cnt, err := fixedReadAll(t, newReader(), batch.Options[*record.Record]{ChunkSize: 4, Resume: &cp})
				if err != nil {
					t.Fatalf("resume from checkpoint %d: %v", i, err)
				}
				if got, want := fixedJSONLines(t, k.got), fixedJSONLines(t, full.got[cp.Seq:]); got != want {
					t.Errorf("resume from checkpoint %d (seq %d): got\n%s\nwant\n%s", i, cp.Seq, got, want)
				}
				if cnt.Read != 23 {
					t.Errorf("resume from checkpoint %d: read_count %d", i, cnt.Read)
				}
				if k.value("trailer") == nil {
					t.Errorf("resume from checkpoint %d: no trailer", i)
				}
			}
		})
	}
}

func TestFixedSeekErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.dat"), []byte(fixedBankRecords(3)), 0o644)
	r, err := fixedNewReader(t, dir, `path = "in.dat"`+fixedTextModel)
	if err != nil {
		t.Fatal(err)
	}
	defer r.(*FixedReader).Close()
	for _, pos := range []string{`nonsense`, `{"offset":9999,"records":1}`, `{"offset":3,"records":0}`, `{"offset":10,"records":-1}`,
		`{"offset":10,"records":0,"sums":["x"]}`, `{"offset":10,"records":0,"sums":["1e-2","3e-0"]}`} {
		if err := r.Seek([]byte(pos)); err == nil || !strings.Contains(err.Error(), "in.dat") {
			t.Errorf("Seek(%s): %v", pos, err)
		}
	}
	p, err := r.Position()
	if err != nil || string(p) != `{"offset":10,"records":0,"sums":["0e-0"]}` {
		t.Errorf("Position %s %v", p, err)
	}
}

// --- writer ---------------------------------------------------------------------------

const fixedWriterModel = `
header_values = { date = "2026-11-20" }
trailer_values = { note = "END" }
record_separator = "\n"
header {
  field "tag" {
    length = 1
    value  = "H"
  }
  field "date" {
    length = 8
    type   = "timestamp"
  }
}
body {
  field "tag" {
    length = 1
    value  = "D"
  }
  field "name" { length = 6 }
  field "amount" {
    length = 8
    type   = "decimal"
    scale  = 2
    pad    = "0"
  }
  filler {
    length = 2
    pad    = "."
  }
}
trailer {
  fields = [
    { name = "tag",   length = 1,  value = "T" },
    { name = "count", length = 5,  type = "int", pad = "0", check = "count" },
    { name = "total", length = 10, type = "decimal", scale = 2, pad = "0", sum_of = "amount" },
    { name = "note",  length = 3 },
  ]
}
`

func fixedWriterInput(t testing.TB, n int) []*record.Record {
	var rows [][]record.Value
	for i := 0; i < n; i++ {
		rows = append(rows, []record.Value{record.Str(fmt.Sprintf("n%d", i)), record.Dec(int64(i*101-500), 2), record.IntVal(int64(i))})
	}
	return fixedRecords(t, []string{"name", "amount", "extra"}, rows...)
}

func TestFixedWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := fixedNewWriter(t, dir, `path = "out/o.dat"`+fixedWriterModel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fixedWriteAll(t, w, fixedWriterInput(t, 3), batch.Options[*record.Record]{ChunkSize: 2}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out", "o.dat"))
	want := "H20261120\n" +
		"Dn0    -0000500..\n" +
		"Dn1    -0000399..\n" +
		"Dn2    -0000298..\n" +
		"T00003-000001197END\n"
	if string(got) != want {
		t.Errorf("wrote\n%s\nwant\n%s", got, want)
	}
}

func TestFixedWriterItemErrors(t *testing.T) {
	dir := t.TempDir()
	w, err := fixedNewWriter(t, dir, `path = "o.dat"`+fixedWriterModel)
	if err != nil {
		t.Fatal(err)
	}
	in := fixedRecords(t, []string{"name", "amount"},
		[]record.Value{record.Str("ok"), fixedDec(t, "1.00")},
		[]record.Value{record.Str("toolong"), fixedDec(t, "1.00")},
		[]record.Value{record.Str("x"), fixedDec(t, "1.001")},
		[]record.Value{record.Str("x"), fixedDec(t, "1000000.00")},
		[]record.Value{record.Str("a\nb"), fixedDec(t, "1")},
		[]record.Value{record.Str("x"), record.Str("12x")},
		[]record.Value{record.Str("ok2"), record.Str("2.5")},
	)
	in = append(in, fixedRecords(t, []string{"name"}, []record.Value{record.Str("x")})...)
	skips := &fixedSkips{}
	cnt, err := fixedWriteAll(t, w, in, batch.Options[*record.Record]{ChunkSize: 10, Skip: batch.SkipPolicy{Limit: 10, Log: skips.log}})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, s := range skips.list {
		msgs = append(msgs, fmt.Sprintf("%s: %v", s.Where, s.Err))
	}
	wantSub := []string{
		`field name: value "toolong" is 7 bytes, longer than the field's 6`,
		`field amount: 1.001 does not fit scale 2`,
		`field amount: value "100000000" is 9 bytes, longer than the field's 8`,
		`field name: value "a\nb" contains the record separator`,
		`field amount: invalid decimal "12x"`,
		`field amount: the record has no such field (it has name)`,
	}
	if len(msgs) != len(wantSub) {
		t.Fatalf("skipped:\n%s", strings.Join(msgs, "\n"))
	}
	for i, m := range msgs {
		if !strings.Contains(m, wantSub[i]) || !strings.Contains(m, "o.dat: record from mem:") {
			t.Errorf("skip %d: %s\nwant it to name the file, the record and %s", i, m, wantSub[i])
		}
	}
	if cnt.Write != 2 || cnt.WriteSkip != 6 {
		t.Errorf("counters %+v", cnt)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "o.dat"))
	if want := "H20261120\nDok    00000100..\nDok2   00000250..\nT000020000000350END\n"; string(got) != want {
		t.Errorf("wrote\n%s\nwant\n%s", got, want)
	}
}

// fixedFailAt is a processor that fails at record n: the run stops there,
// as a crash would, with what was committed before.
func fixedFailAt(n int64) batch.RecordProcessor {
	return batch.ProcessorFunc[*record.Record, *record.Record](func(c *batch.Chunk, r *record.Record, emit func(*record.Record)) error {
		if r.Line == n {
			return fmt.Errorf("crash at %d", n)
		}
		emit(r)
		return nil
	})
}

func TestFixedWriterResume(t *testing.T) {
	in := fixedWriterInput(t, 50)
	ref := t.TempDir()
	w, err := fixedNewWriter(t, ref, `path = "o.dat"`+fixedWriterModel)
	if err != nil {
		t.Fatal(err)
	}
	var cps []batch.Checkpoint
	if _, err := fixedWriteAll(t, w, in, batch.Options[*record.Record]{ChunkSize: 7,
		OnCommit: func(cp batch.Checkpoint) error { cps = append(cps, cp); return nil }}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(ref, "o.dat"))

	// A run that stops at record n, resumed from its last checkpoint, gives
	// the same file.
	for _, n := range []int64{1, 7, 8, 20, 50} {
		t.Run(fmt.Sprintf("stop at %d", n), func(t *testing.T) {
			dir := t.TempDir()
			w, err := fixedNewWriter(t, dir, `path = "o.dat"`+fixedWriterModel)
			if err != nil {
				t.Fatal(err)
			}
			var last *batch.Checkpoint
			_, err = batch.Run[*record.Record, *record.Record](context.Background(), &fixedSlice{recs: in}, fixedFailAt(n), w,
				batch.Options[*record.Record]{ChunkSize: 7, OnCommit: func(cp batch.Checkpoint) error { last = &cp; return nil }})
			w.Close()
			if err == nil || !strings.Contains(err.Error(), "crash") {
				t.Fatalf("run: %v", err)
			}
			partial, _ := os.ReadFile(filepath.Join(dir, "o.dat"))
			if bytes.Contains(partial, []byte("\nT")) {
				t.Fatalf("a failed run wrote the trailer:\n%s", partial)
			}
			// Garbage past the committed offset, as a crash mid-write leaves.
			f, _ := os.OpenFile(filepath.Join(dir, "o.dat"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("Dgarbage")
			f.Close()
			w2, err := fixedNewWriter(t, dir, `path = "o.dat"`+fixedWriterModel)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fixedWriteAll(t, w2, in, batch.Options[*record.Record]{ChunkSize: 7, Resume: last}); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "o.dat"))
			if !bytes.Equal(got, want) {
				t.Errorf("resumed file:\n%s\nwant:\n%s", got, want)
			}
		})
	}

	// Killed after the trailer was written but before the step was marked
	// complete: the resume cuts the trailer and writes it once.
	t.Run("after the trailer", func(t *testing.T) {
		last := cps[len(cps)-1]
		w2, err := fixedNewWriter(t, ref, `path = "o.dat"`+fixedWriterModel)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fixedWriteAll(t, w2, in, batch.Options[*record.Record]{ChunkSize: 7, Resume: &last}); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(ref, "o.dat"))
		if !bytes.Equal(got, want) {
			t.Errorf("resumed file:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		dir := t.TempDir()
		w, err := fixedNewWriter(t, dir, `path = "o.dat"`+fixedWriterModel)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fixedWriteAll(t, w, in, batch.Options[*record.Record]{ChunkSize: 3, Concurrency: 4}); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "o.dat"))
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		if len(gl) != len(wl) || gl[0] != wl[0] || gl[len(gl)-2] != wl[len(wl)-2] {
			t.Errorf("concurrent run: header or trailer differ:\n%s", got)
		}
	})
}

func TestFixedWriterStateErrors(t *testing.T) {
	dir := t.TempDir()
	for _, st := range []string{`{"offset":10}`, `{"offset":10,"meta":{"count":-1}}`, `{"offset":999,"meta":{"count":0,"sums":["0e-0"]}}`} {
		os.WriteFile(filepath.Join(dir, "o.dat"), []byte("H20261120\n"), 0o644)
		w, err := fixedNewWriter(t, dir, `path = "o.dat"`+fixedWriterModel)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fixedWriteAll(t, w, nil, batch.Options[*record.Record]{Resume: &batch.Checkpoint{Writers: map[string][]byte{"fixed": []byte(st)}}})
		if err == nil || !strings.Contains(err.Error(), "o.dat") {
			t.Errorf("state %s: %v", st, err)
		}
	}
}

// --- configuration errors ----------------------------------------------------------

func TestFixedConfigErrors(t *testing.T) {
	// b and t make a body and a trailer of fields given as lists.
	b := func(fields ...string) string { return "body { fields = [" + strings.Join(fields, ", ") + "] }\n" }
	tr := func(fields ...string) string { return "trailer { fields = [" + strings.Join(fields, ", ") + "] }\n" }
	cases := []struct{ src, want string }{
		{b(`{ name = "a", codec = "int32be", type = "string" }`), "field a: codec int32be holds an int, a decimal (with scale) or a bool, not a string"},
		{b(`{ name = "a", codec = "int32be", length = 2 }`), "codec int32be is 4 bytes, but length is 2"},
		{b(`{ name = "a", type = "int" }`), "field a: length is required"},
		{b(`{ name = "a", length = 2, pad = "00" }`), `pad must be one ASCII character, not "00"`},
		{b(`{ name = "a", length = 4, type = "int", pad = "0", align = "left" }`), `a number padded with "0" must be right-aligned`},
		{b(`{ name = "a", length = 4, scale = 2 }`), "scale is for decimal fields"},
		{b(`{ name = "a", length = 4, type = "decimal", scale = 19 }`), "scale must be"},
		{b(`{ name = "a", length = 4, type = "bool" }`), `"true" and "false" do not fit in 4 byte(s)`},
		{b(`{ name = "a", codec = "float32be", type = "decimal" }`), "floats are not exact"},
		{b(`{ name = "a", codec = "packed", length = 10 }`), "a packed field holds at most 18 digits"},
		{b(`{ name = "a", codec = "int33be" }`), `fields[0]: codec: "int33be" is not one of "text"`},
		{b(`{ name = "a", length = "x" }`), `fields[0]: length: a number is required`},
		{b(`{ name = "a", lenght = 2 }`), `fields[0]: unknown attribute "lenght" (a field takes name, length, type`},
		{b(`{ name = "a", length = 2 }`, `{ length = 2, type = "int" }`), "fields[1]: a filler (an object with no name) takes only length and pad, not type"},
		{"body { fields = 3 }", "fields must be a list of objects"},
		{"body { fields = [3] }", "fields[0] must be an object"},
		{"body {\n  length = 5\n  fields = [{ name = \"a\", length = 4 }]\n}", "body: length is 5 but the fields add up to 4 bytes"},
		{b(`{ name = "a", length = 4, check = "count" }`), "body: field a: check and sum_of belong in the trailer"},
		{b(`{ name = "a", length = 4 }`) + tr(`{ name = "s", length = 4, type = "int", sum_of = "b" }`), `sum_of names "b", which is not a body field (body fields: a)`},
		{b(`{ name = "a", length = 4 }`) + tr(`{ name = "s", length = 4, type = "int", sum_of = "a" }`), "sum_of needs an int or decimal body field; a is string"},
		{b(`{ name = "a", length = 4, type = "int" }`) + tr(`{ name = "s", length = 4, sum_of = "a" }`), "a count or sum must be of type int or decimal, not string"},
		{b(`{ name = "a", length = 2, value = "abc" }`), `field a: value: value "abc" is 3 bytes, longer than the field's 2`},
		{b(`{ name = "a", length = 2, type = "int", value = "x" }`), `field a: value: invalid int "x"`},
		{b(`{ name = "a", length = 2 }`, `{ name = "a", length = 2 }`), `duplicate field "a"`},
		{b(`{ length = 0 }`), "filler 1: length must be at least 1"},
		{"record_separator = \"|\"\n" + b(`{ name = "a", length = 2, pad = "|" }`), "its value or padding contains the record separator"},
		{"body {\n  field \"a\" { length = 2 }\n  fields = [{ name = \"b\", length = 2 }]\n}", "give the fields as field blocks or as a fields list, not both"},
		{"header {\n  field \"a\" { length = 2 }\n}", "needs a body block"},
	}
	for _, tc := range cases {
		_, err := fixedNewReader(t, t.TempDir(), "path = \"x\"\n"+tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\n  error %v\n  want %q", tc.src, err, tc.want)
		}
	}
	// Writer-only checks.
	for _, tc := range []struct{ src, want string }{
		{"header_values = { nope = 1 }\nheader { fields = [{ name = \"a\", length = 1 }] }\n" + b(`{ name = "b", length = 1 }`), `header_values: the header has no field "nope" (fields: a)`},
		{"header_values = { a = \"xx\" }\nheader { fields = [{ name = \"a\", length = 1 }] }\n" + b(`{ name = "b", length = 1 }`), `header: field a: value "xx" is 2 bytes, longer than the field's 1`},
		{"header_values = { a = 1 }\n" + b(`{ name = "b", length = 1 }`), "header_values is given but there is no header block"},
		{"trailer_values = [1]\ntrailer { fields = [{ name = \"a\", length = 1 }] }\n" + b(`{ name = "b", length = 1 }`), "trailer_values must be a map"},
	} {
		_, err := fixedNewWriter(t, t.TempDir(), "path = \"x\"\n"+tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\n  error %v\n  want %q", tc.src, err, tc.want)
		}
	}
}

func TestFixedPosition(t *testing.T) {
	// Record values carry where they came from.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.dat"), []byte(fixedBankRecords(2)), 0o644)
	r, err := fixedNewReader(t, dir, `path = "in.dat"`+fixedTextModel)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := fixedReadAll(t, r, batch.Options[*record.Record]{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range k.got {
		got = append(got, fmt.Sprintf("%s@%d", rec.Where(), rec.Offset))
	}
	if s := strings.Join(got, " "); s != "in.dat:2@10 in.dat:3@20" {
		t.Errorf("positions %s", s)
	}
	done, total := r.(batch.Sizer).Size()
	if done != total || total != int64(len(fixedBankRecords(2))) {
		t.Errorf("Size %d/%d", done, total)
	}
}

// TestFixedDocExample checks that the example of FixedFormat's doc comment
// is a valid model.
func TestFixedDocExample(t *testing.T) {
	src, err := os.ReadFile("fixedwidth.go")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(string(src), "\n") {
		switch {
		case l == "//\treader \"fixed\" {":
			in = true
		case in && l == "//\t}":
			in = false
		case in:
			lines = append(lines, strings.TrimPrefix(strings.TrimPrefix(l, "//"), "\t"))
		}
	}
	if len(lines) < 10 {
		t.Fatalf("no example found (%d lines)", len(lines))
	}
	r, err := fixedNewReader(t, t.TempDir(), strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	ff := r.(*FixedReader).format
	if ff.Header.Length != 42 || ff.Body.Length != 42 || ff.Trailer.Length != 42 {
		t.Errorf("record lengths %d %d %d", ff.Header.Length, ff.Body.Length, ff.Trailer.Length)
	}
}
