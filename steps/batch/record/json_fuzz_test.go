package record_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowbatch/flow/steps/batch/record"
)

// FuzzRecordJSON reads lines of arbitrary bytes as JSON objects, with one
// schema cache for all of them as the JSONL reader has: no panic; every
// record has as many values as its schema has fields; what decodes
// encodes, and decodes again to the same values (a number that is no
// exact decimal comes back as the nearest float, then stays as it is).
func FuzzRecordJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"amount":10.50,"name":"a","ok":true,"n":null}`,
		"{}\n{\"\":1}",
		"{\"\":1}\n{}",
		"{\"a\\u0000b\":1}\n{\"a\":1,\"b\":2}",
		`{"big":123456789012345678901234,"tiny":1e-30,"f":1.00000000000000000001e-7,"e":1.5e3}`,
		`{"l":[1,[2,{"x":"y"}],[]],"m":{"k":{"k":{}}}}`,
		`{"a":1,"a":2}`,
		`{"s":"\ud800","t":"é\n\"\\"}`,
		`{"n":-9223372036854775808,"o":9223372036854775808,"p":-0.0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var schemas record.Schemas
		for _, line := range bytes.Split(data, []byte("\n")) {
			rec, err := record.DecodeJSON(line, &schemas)
			if err != nil {
				continue
			}
			checkShape(t, rec)
			enc1, err := record.AppendRecordJSON(nil, rec)
			if err != nil {
				t.Fatalf("%s decoded, but does not encode: %v", line, err)
			}
			rec2, err := record.DecodeJSON(enc1, &schemas)
			if err != nil {
				t.Fatalf("%s encoded as %s, which does not decode: %v", line, enc1, err)
			}
			checkShape(t, rec2)
			if !sameRecord(rec, rec2) {
				t.Fatalf("%s came back as %s", line, enc1)
			}
			enc2, err := record.AppendRecordJSON(nil, rec2)
			if err != nil {
				t.Fatal(err)
			}
			rec3, err := record.DecodeJSON(enc2, &schemas)
			if err != nil {
				t.Fatal(err)
			}
			if enc3, _ := record.AppendRecordJSON(nil, rec3); !bytes.Equal(enc2, enc3) {
				t.Fatalf("%s: encodings do not settle: %s, then %s", line, enc2, enc3)
			}
		}
	})
}

// FuzzValueJSON builds a record of typed values from arbitrary bytes (the
// values readers make: strings with any bytes, ints, decimals of any
// scale, floats including NaN and infinities, timestamps, nested lists and
// maps) and writes it as JSON, as the JSONL writer does: either an error,
// or valid JSON that reads back as the same values (timestamps as their
// RFC 3339 text, strings as valid UTF-8).
func FuzzValueJSON(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01hello\x00\x02\x08\x00\x00\x00\x00\x00\x00\x01\x03\x10\x02\x00\x00\x00\x00\x00\x00\x30\x39"))
	f.Add([]byte("\x04\x7f\xf8\x00\x00\x00\x00\x00\x01"))                                     // NaN
	f.Add([]byte("\x04\x7f\xf0\x00\x00\x00\x00\x00\x00"))                                     // +Inf
	f.Add([]byte("\x06\x00\x00\x00\x00\x00\x00\x00\x01\x07\x02\x05\x00\x02\x01\x01\x00\x08")) // time, list, bool
	f.Add([]byte("\x01\xff\xfe\x00\x03\xfe\xff\xff\xff\xff\xff\xff\xff\xff"))                 // bad UTF-8, negative scale
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &valueGen{data: data}
		rec := g.record(0)
		b, err := record.AppendRecordJSON(nil, rec)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("not JSON: %s", b)
		}
		back, err := record.DecodeJSON(b, &record.Schemas{})
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !sameAsWritten(record.MapVal(rec), record.MapVal(back)) {
			t.Fatalf("%s read back differently", b)
		}
	})
}

// checkShape fails when a record's values and fields disagree, at any
// depth.
func checkShape(t *testing.T, r *record.Record) {
	t.Helper()
	if len(r.Values) != len(r.Schema.Fields) {
		t.Fatalf("record with %d values and %d fields (%q)", len(r.Values), len(r.Schema.Fields), r.Schema.Names())
	}
	for _, v := range r.Values {
		checkValueShape(t, v)
	}
}

func checkValueShape(t *testing.T, v record.Value) {
	t.Helper()
	if l, ok := v.List(); ok {
		for _, e := range l {
			checkValueShape(t, e)
		}
	}
	if m, ok := v.Map(); ok {
		checkShape(t, m)
	}
}

// sameRecord compares field names and values, numbers by value whatever
// their kind, floats to their last bits.
func sameRecord(a, b *record.Record) bool {
	if len(a.Values) != len(b.Values) {
		return false
	}
	for i, f := range a.Schema.Fields {
		if b.Schema.Fields[i].Name != f.Name || !sameValue(a.Values[i], b.Values[i]) {
			return false
		}
	}
	return true
}

func isNumber(k record.Kind) bool {
	return k == record.Int || k == record.Decimal || k == record.Float
}

func sameValue(a, b record.Value) bool {
	if isNumber(a.Kind()) && isNumber(b.Kind()) {
		if a.Kind() != record.Float && b.Kind() != record.Float {
			return a.Equal(b)
		}
		x, _ := a.Float()
		y, _ := b.Float()
		return x == y || math.Abs(x-y) <= 1e-15*math.Max(math.Abs(x), math.Abs(y))
	}
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case record.List:
		l1, _ := a.List()
		l2, _ := b.List()
		if len(l1) != len(l2) {
			return false
		}
		for i := range l1 {
			if !sameValue(l1[i], l2[i]) {
				return false
			}
		}
		return true
	case record.Map:
		m1, _ := a.Map()
		m2, _ := b.Map()
		return sameRecord(m1, m2)
	}
	return a.Equal(b)
}

// sameAsWritten compares a value with what JSON gave back for it:
// timestamps come back as their text, strings as valid UTF-8.
func sameAsWritten(w, r record.Value) bool {
	switch w.Kind() {
	case record.Time:
		return r.Kind() == record.String && r.Str() == w.Text()
	case record.String:
		return r.Kind() == record.String && r.Str() == jsonText(w.Str())
	case record.List:
		l1, _ := w.List()
		l2, ok := r.List()
		if !ok || len(l1) != len(l2) {
			return false
		}
		for i := range l1 {
			if !sameAsWritten(l1[i], l2[i]) {
				return false
			}
		}
		return true
	case record.Map:
		m1, _ := w.Map()
		m2, ok := r.Map()
		if !ok || len(m1.Values) != len(m2.Values) {
			return false
		}
		for i, f := range m1.Schema.Fields {
			if m2.Schema.Fields[i].Name != jsonText(f.Name) || !sameAsWritten(m1.Values[i], m2.Values[i]) {
				return false
			}
		}
		return true
	}
	return sameValue(w, r)
}

// jsonText is s as JSON gives it back: each byte of an invalid UTF-8
// sequence becomes U+FFFD.
func jsonText(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // an invalid byte ranges as utf8.RuneError, one byte at a time
	}
	return b.String()
}

// valueGen makes values from fuzz bytes.
type valueGen struct{ data []byte }

func (g *valueGen) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

func (g *valueGen) uint64() uint64 {
	var b [8]byte
	n := copy(b[:], g.data)
	g.data = g.data[n:]
	return binary.BigEndian.Uint64(b[:])
}

func (g *valueGen) string() string {
	n := int(g.byte() % 16)
	n = min(n, len(g.data))
	s := string(g.data[:n])
	g.data = g.data[n:]
	return s
}

func (g *valueGen) record(depth int) *record.Record {
	n := int(g.byte() % 6)
	var names []string
	var vals []record.Value
	seen := map[string]bool{}
	for i := 0; i < n && len(g.data) > 0; i++ {
		name := g.string()
		// Names that JSON gives back the same, once each.
		if seen[jsonText(name)] {
			name += "#" + strconv.Itoa(i)
		}
		if seen[jsonText(name)] {
			continue
		}
		seen[jsonText(name)] = true
		names = append(names, name)
		vals = append(vals, g.value(depth))
	}
	s, err := record.Names(names...)
	if err != nil {
		panic(err) // names are unique
	}
	return &record.Record{Schema: s, Values: vals}
}

func (g *valueGen) value(depth int) record.Value {
	switch g.byte() % 9 {
	case 1:
		return record.Str(g.string())
	case 2:
		return record.IntVal(int64(g.uint64()))
	case 3:
		scale := int32(int8(g.byte())) % 24
		return record.Dec(int64(g.uint64()), scale)
	case 4:
		return record.FloatVal(math.Float64frombits(g.uint64()))
	case 5:
		return record.BoolVal(g.byte()&1 == 1)
	case 6:
		// Years 1678 to 2262: what UnixNano holds.
		return record.TimeVal(time.Unix(0, int64(g.uint64())).UTC())
	case 7:
		if depth > 3 {
			return record.Value{}
		}
		n := int(g.byte() % 4)
		l := make([]record.Value, 0, n)
		for i := 0; i < n; i++ {
			l = append(l, g.value(depth+1))
		}
		return record.ListVal(l)
	case 8:
		if depth > 3 {
			return record.Value{}
		}
		return record.MapVal(g.record(depth + 1))
	}
	return record.Value{}
}

// Regressions found by the fuzz targets above.

// Field names joined with a separator made one cache key for [] and [""],
// and for ["a\x00b"] and ["a", "b"]: the second object got the first's
// schema, and writing it indexed past its values.
func TestSchemasKeepNamesApart(t *testing.T) {
	for _, lines := range [][]string{
		{`{}`, `{"":1}`},
		{`{"":1}`, `{}`},
		{`{"a\u0000b":1}`, `{"a":1,"b":2}`},
	} {
		var schemas record.Schemas
		for _, l := range lines {
			r, err := record.DecodeJSON([]byte(l), &schemas)
			if err != nil {
				t.Fatal(err)
			}
			b, err := record.AppendRecordJSON(nil, r)
			if err != nil || string(b) != l {
				t.Errorf("%s after %s: written as %s, %v", l, lines[0], b, err)
			}
		}
	}
}

// NaN and the infinities have no JSON form: writing one is an error, not
// a line no JSON reader accepts.
func TestJSONRefusesNaN(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if b, err := record.AppendJSON(nil, record.FloatVal(f)); err == nil {
			t.Errorf("%v written as %s", f, b)
		}
	}
	// A zero with a negative scale is 0, not 00.
	if b, _ := record.AppendJSON(nil, record.Dec(0, -2)); string(b) != "0" {
		t.Errorf("Dec(0, -2) written as %s", b)
	}
}

// A line cut inside a JSON object was reported as just "EOF" (found by the
// bad-input corpus, testdata/bad/jsonl-bad-line).
func TestDecodeJSONCutShort(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":2`:       "the line ends before the JSON object is closed",
		`{"a":{"b":[1,`: "field a: field b: the line ends before the JSON object is closed",
	} {
		_, err := record.DecodeJSON([]byte(in), &record.Schemas{})
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", in, err, want)
		}
	}
}
