package record_test

import (
	"testing"
	"time"

	"github.com/flowbatch/flow/steps/batch/record"
)

func TestDecimal(t *testing.T) {
	cases := []struct {
		in    string
		units int64
		scale int32
		text  string
	}{
		{"123.45", 12345, 2, "123.45"},
		{"-0.05", -5, 2, "-0.05"},
		{"10", 10, 0, "10"},
		{"10.50", 1050, 2, "10.50"},
		{"+7.0", 70, 1, "7.0"},
		{"1.5e3", 1500, 0, "1500"},
		{"2.5e-2", 25, 3, "0.025"},
		{".5", 5, 1, "0.5"},
		{"-9223372036854775807", -9223372036854775807, 0, "-9223372036854775807"},
	}
	for _, c := range cases {
		v, err := record.ParseDecimal(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		u, s, _ := v.Decimal()
		if u != c.units || s != c.scale || v.Text() != c.text {
			t.Errorf("%s: got %d scale %d text %s", c.in, u, s, v.Text())
		}
	}
	for _, bad := range []string{"", "1.2.3", "abc", "1e", "-", "99999999999999999999"} {
		if _, err := record.ParseDecimal(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	a, _ := record.ParseDecimal("1.50")
	b, _ := record.ParseDecimal("1.5")
	if !a.Equal(b) || a.Equal(record.IntVal(1)) {
		t.Error("decimal equality")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var schemas record.Schemas
	in := `{"id":7,"amount":10.25,"name":"a\"b","ok":true,"none":null,"tags":["x",1],"nested":{"k":1.0}}`
	r, err := record.DecodeJSON([]byte(in), &schemas)
	if err != nil {
		t.Fatal(err)
	}
	out, err := record.AppendRecordJSON(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("got %s", out)
	}
	if v, _ := r.Get("amount"); v.Kind() != record.Decimal {
		t.Errorf("amount is %s", v.Kind())
	}
	if _, err := record.DecodeJSON([]byte(`[1]`), &schemas); err == nil {
		t.Error("an array was taken for a record")
	}
}

func TestParseKinds(t *testing.T) {
	ts, err := record.Parse(record.Time, "2026-11-20T10:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if tm, _ := ts.Time(); !tm.Equal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)) {
		t.Error(tm)
	}
	if v, _ := record.Parse(record.Int, ""); !v.IsNull() {
		t.Error("empty int is not null")
	}
	if _, err := record.Parse(record.Int, "1.5"); err == nil {
		t.Error("1.5 parsed as int")
	}
}

func TestAllocNew(t *testing.T) {
	s, err := record.NewSchema(record.Field{Name: "a", Kind: record.Int}, record.Field{Name: "b", Kind: record.String})
	if err != nil {
		t.Fatal(err)
	}
	var a record.Alloc
	var recs []*record.Record
	for i := range 1000 {
		r := a.New(s)
		if r.Schema != s || len(r.Values) != 2 || cap(r.Values) != 2 {
			t.Fatalf("record %d: schema %p, %d values (cap %d)", i, r.Schema, len(r.Values), cap(r.Values))
		}
		if !r.Values[0].IsNull() || !r.Values[1].IsNull() {
			t.Fatalf("record %d is not empty", i)
		}
		r.Values[0] = record.IntVal(int64(i))
		r.Values[1] = record.Str("x")
		// Appending to one record's values must not reach the next one's.
		_ = append(r.Values, record.IntVal(-1))
		recs = append(recs, r)
	}
	for i, r := range recs {
		if n, _ := r.Values[0].Int(); n != int64(i) || r.Values[1].Str() != "x" {
			t.Fatalf("record %d was overwritten: %v", i, r.Values)
		}
	}
}
