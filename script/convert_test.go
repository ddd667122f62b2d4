package script

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/flowbatch/flow/steps/batch/record"
)

func testRT(t testing.TB) *rt {
	t.Helper()
	return newRT(&host{main: &unit{}, schemas: &record.Schemas{}, hasFiles: false}, newWatchdog(nil, 5*time.Second))
}

// eval runs a JS function of x and returns its result.
func evalJS(t testing.TB, r *rt, fn string, x goja.Value) goja.Value {
	t.Helper()
	v, err := r.vm.RunString("(" + fn + ")")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := goja.AssertFunction(v)
	out, err := r.call(f, goja.Undefined(), x)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return out
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Every record value kind reaches JS with its type, and comes back the
// same when JS passes it on unchanged (from the item, or copied into a
// new object).
func TestRecordRoundTrip(t *testing.T) {
	nested, _ := record.Names("a", "b")
	inner := &record.Record{Schema: nested, Values: []record.Value{record.IntVal(1), record.Str("x")}}
	cases := []struct {
		name   string
		v      record.Value
		typeof string // what JS sees
	}{
		{"int", record.IntVal(42), "number"},
		{"big int", record.IntVal(math.MaxInt64), "bigint"},
		{"2^53", record.IntVal(1 << 53), "number"},
		{"2^53+1", record.IntVal(1<<53 + 1), "bigint"},
		{"negative int", record.IntVal(-7), "number"},
		{"float", record.FloatVal(2.5), "number"},
		{"decimal", record.Dec(1050, 2), "number"},
		{"decimal whole", record.Dec(10000, 2), "number"},
		{"decimal 18 digits", record.Dec(123456789012345678, 2), "object"},
		{"bool true", record.BoolVal(true), "boolean"},
		{"bool false", record.BoolVal(false), "boolean"},
		{"null", record.Value{}, "object"},
		{"string", record.Str("héllo"), "string"},
		{"empty string", record.Str(""), "string"},
		{"timestamp", record.TimeVal(mustTime("2026-11-20T10:00:00.123456789Z")), "object"},
		{"list", record.ListVal([]record.Value{record.IntVal(1), record.Str("two"), record.Dec(305, 2), record.Value{}}), "object"},
		{"nested list", record.ListVal([]record.Value{record.ListVal([]record.Value{record.BoolVal(true)})}), "object"},
		{"map", record.MapVal(inner), "object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := record.Names("f")
			in := &record.Record{Schema: s, Values: []record.Value{tc.v}}
			r := testRT(t)
			item := r.newItem(in)
			if got := evalJS(t, r, "x => typeof x.f", item).String(); got != tc.typeof {
				t.Errorf("typeof = %s, want %s", got, tc.typeof)
			}
			for _, fn := range []string{"x => x", "x => ({ f: x.f })", "x => ({ ...x })"} {
				res := evalJS(t, r, fn, item)
				rec, err := (&pworker{rt: r, cur: in}).toRecord(res)
				if err != nil {
					t.Fatalf("%s: %v", fn, err)
				}
				got := rec.Values[0]
				if got.Kind() != tc.v.Kind() || !got.Equal(tc.v) || got.Text() != tc.v.Text() {
					t.Errorf("%s: %s %q, want %s %q", fn, got.Kind(), got.Text(), tc.v.Kind(), tc.v.Text())
				}
			}
		})
	}
}

// Values made in JS get the record kind that fits them.
func TestJSToRecordKinds(t *testing.T) {
	cases := []struct {
		js   string
		kind record.Kind
		text string
	}{
		{"1", record.Int, "1"},
		{"2 ** 40", record.Int, "1099511627776"},
		{"0.5", record.Float, "0.5"},
		{"1.5 * 2", record.Int, "3"},
		{"'s'", record.String, "s"},
		{"true", record.Bool, "true"},
		{"null", record.Null, ""},
		{"undefined", record.Null, ""},
		{"decimal('10.50')", record.Decimal, "10.50"},
		{"decimal(0.1).add(0.2)", record.Decimal, "0.3"},
		{"new Date(Date.UTC(2026, 10, 20, 10, 0, 0, 5))", record.Time, "2026-11-20T10:00:00.005Z"},
		{"[1, 'a', [true]]", record.List, `[1,"a",[true]]`},
		{"({ x: { y: 1 } })", record.Map, `{"x":{"y":1}}`},
		{"12345678901234567890n", record.Null, "error"},
		{"123n", record.Int, "123"},
	}
	for _, tc := range cases {
		t.Run(tc.js, func(t *testing.T) {
			r := testRT(t)
			v, err := r.vm.RunString(tc.js)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.toValue(v, nil)
			if tc.text == "error" {
				if err == nil {
					t.Errorf("no error for %s", tc.js)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind() != tc.kind || got.Text() != tc.text {
				t.Errorf("%s → %s %q, want %s %q", tc.js, got.Kind(), got.Text(), tc.kind, tc.text)
			}
		})
	}
	r := testRT(t)
	for _, js := range []string{"(function() {})", "Symbol('x')", "new Map()"} {
		v, err := r.vm.RunString(js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.toValue(v, nil); err == nil {
			t.Errorf("%s converted to a record value", js)
		}
	}
}

// Math.round(item.amount * 100) gives the exact cents of every 2-decimal
// amount: decimals reach JS as the nearest double, which times 100 is
// within far less than half a cent of the integer.
func TestCentsExact(t *testing.T) {
	r := testRT(t)
	v, _ := r.vm.RunString(`(x => Math.round(x.amount * 100))`)
	fn, _ := goja.AssertFunction(v)
	s, _ := record.Names("amount")
	check := func(units int64) {
		in := &record.Record{Schema: s, Values: []record.Value{record.Dec(units, 2)}}
		out, err := fn(goja.Undefined(), r.newItem(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := out.ToInteger(); got != units {
			t.Fatalf("Math.round(%s * 100) = %d", in.Values[0].Text(), got)
		}
	}
	for u := int64(-200000); u <= 200000; u++ {
		check(u)
	}
	for _, u := range []int64{999999999999, 123456789012345, -99999999999999, 100000000000001} {
		check(u)
	}
}

// The decimal helper computes exactly and rounds half away from zero.
func TestDecimalHelper(t *testing.T) {
	r := testRT(t)
	cases := map[string]string{
		`decimal("0.1").add("0.2").toString()`:                                 "0.3",
		`decimal(0.1).add(0.2).eq("0.3")`:                                      "true",
		`0.1 + 0.2 === 0.3`:                                                    "false",
		`decimal("10.00").sub(0.01).toString()`:                                "9.99",
		`decimal("19.99").mul(3).toString()`:                                   "59.97",
		`decimal("2.675").round(2).toString()`:                                 "2.68",
		`decimal("-2.675").round(2).toString()`:                                "-2.68",
		`decimal("2.5").round().toString()`:                                    "3",
		`decimal("10").div(3, 4).toString()`:                                   "3.3333",
		`decimal("10.00").div(3).toString()`:                                   "3.33",
		`decimal("2").div(3, 2).toString()`:                                    "0.67",
		`decimal("1.005").mul("1.1", 3).toString()`:                            "1.106",
		`decimal("123.45").toCents()`:                                          "12345",
		`decimal("0.125").toCents()`:                                           "13",
		`decimal("7.5").toUnits(3)`:                                            "7500",
		`decimal("1.50").scale()`:                                              "2",
		`decimal("1.50").cmp("1.5")`:                                           "0",
		`decimal("1.5").lt(2) && decimal(2).gte("2.00")`:                       "true",
		`decimal("-3.20").abs().toString()`:                                    "3.20",
		`decimal("3.20").neg().toString()`:                                     "-3.20",
		`decimal("3.20").sign()`:                                               "1",
		`decimal("12.345").toFixed(1)`:                                         "12.3",
		`decimal("1e3").toString()`:                                            "1000",
		`decimal(1e-7).toString()`:                                             "0.0000001",
		`JSON.stringify({ a: decimal("1.10") })`:                               `{"a":"1.10"}`,
		`decimal("2.50") * 2`:                                                  "5",
		`decimal("1.5") > 1`:                                                   "true",
		`decimal.isDecimal(decimal(1)) && !decimal.isDecimal(1)`:               "true",
		`decimal(1) instanceof decimal`:                                        "true",
		`decimal("3.14159", 2).toString()`:                                     "3.14",
		"`${decimal('1.20')}`":                                                 "1.20",
		`decimal("99999999999999999").add(1).toString()`:                       "100000000000000000",
		`decimal("123456789012345678").toCents()`:                              "12345678901234567800",
		`decimal.half = x => decimal(x).div(2, 1); decimal.half(3).toString()`: "1.5",
	}
	for js, want := range cases {
		v, err := r.vm.RunString(js)
		if err != nil {
			t.Errorf("%s: %v", js, err)
			continue
		}
		if got := v.String(); got != want {
			t.Errorf("%s = %s, want %s", js, got, want)
		}
	}
	for _, js := range []string{
		`decimal("abc")`, `decimal(NaN)`, `decimal(1).div(0)`, `decimal("9223372036854775807").add(1)`,
		`decimal(1).round(40)`, `decimal(null)`, `decimal({})`, `decimal("1").add()`,
		// read-only: code that calls decimal.field(item, ...) hands item to it
		`"use strict"; decimal.field = () => 1`, `"use strict"; decimal = 1`,
	} {
		if _, err := r.vm.RunString(js); err == nil {
			t.Errorf("%s: no error", js)
		}
	}
}

// decFromFloat finds, without text, the decimal that strconv's shortest
// form of the number gives.
func TestDecFromFloat(t *testing.T) {
	check := func(f float64) {
		if f == math.Trunc(f) && math.Abs(f) >= 1<<53 {
			return // whole numbers keep their binary value (not the fast path)
		}
		got, err := decFromFloat(f)
		want, werr := parseDec(strconv.FormatFloat(f, 'g', -1, 64))
		if (err != nil) != (werr != nil) {
			t.Fatalf("decFromFloat(%v): %v, want %v", f, err, werr)
		}
		if got != want {
			t.Fatalf("decFromFloat(%v) = %v (scale %d), want %v (scale %d)", f, got, got.s, want, want.s)
		}
	}
	for u := int64(-200000); u <= 200000; u += 7 {
		for _, p := range []float64{10, 100, 1000, 1e6} {
			check(float64(u) / p)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(rnd.NormFloat64() * math.Pow(10, float64(rnd.IntN(30)-15)))
		check(math.Float64frombits(rnd.Uint64() & (1<<63 - 1)))
	}
	for _, f := range []float64{0.1, 0.2, 0.3, 1e-7, 5e-324, 1.7976931348623157e308, 123456789012345.6, 0.1 + 0.2, 99999999999999.99, 1e15 + 0.5} {
		check(f)
		check(-f)
	}
}

// HCL values reach JS with their types and come back equal.
func TestCtyRoundTrip(t *testing.T) {
	cases := []string{
		`1`, `-42`, `9007199254740993`, `0.1`, `2.5`, `-0.000001`, `1234567890.12345`,
		`12345678901234.5678`, `1e300`, `true`, `false`, `null`, `"text"`, `""`,
		`[1, "a", true, null]`, `[]`, `{}`, `{ a = 1, b = [1.5, { c = "d" }] }`,
		`{ nested = { deeper = { list = [[1], [2, 3]] } } }`,
		`"2026-11-20T10:00:00Z"`,
	}
	for _, src := range cases {
		t.Run(src, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			in, diags := expr.Value(nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			r := testRT(t)
			js := r.ctyToJS(in, true)
			out, err := r.jsToCty(js)
			if err != nil {
				t.Fatal(err)
			}
			if in.IsNull() {
				if !out.IsNull() {
					t.Errorf("null came back as %#v", out)
				}
				return
			}
			if !out.Equals(in).True() {
				t.Errorf("%s came back as %#v", src, out)
			}
		})
	}
	// Typed collections come back as tuples and objects, which convert to
	// the same values of the original types.
	r := testRT(t)
	for _, in := range []cty.Value{
		cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}),
		cty.SetVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		cty.MapVal(map[string]cty.Value{"k": cty.NumberFloatVal(0.25)}),
	} {
		out, err := r.jsToCty(r.ctyToJS(in, false))
		if err != nil {
			t.Fatal(err)
		}
		back, err := convert.Convert(out, in.Type())
		if err != nil || !back.Equals(in).True() {
			t.Errorf("%#v came back as %#v (%v)", in, out, err)
		}
	}
}

// Integers stay integers, decimals stay exact (as JS numbers when they
// print back the same, else decimal objects).
func TestCtyNumbersInJS(t *testing.T) {
	r := testRT(t)
	for src, want := range map[string]string{
		`3`:                     "number 3",
		`9007199254740993`:      "bigint 9007199254740993",
		`9007199254740992`:      "number 9007199254740992",
		`0.1`:                   "number 0.1",
		`12345678901234.5678`:   "decimal 12345678901234.5678",
		`123456789012345678901`: "number 123456789012345680000",
	} {
		expr, _ := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
		v, _ := expr.Value(nil)
		js := r.ctyToJS(v, false)
		kind := "number"
		switch js.ExportType() {
		case typeDecimal:
			kind = "decimal"
		case typeBigInt:
			kind = "bigint"
		}
		if got := kind + " " + js.String(); got != want {
			t.Errorf("%s → %s, want %s", src, got, want)
		}
	}
	// Objects given to JS are frozen.
	obj := r.ctyToJS(cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}), true)
	if got := evalJS(t, r, `o => { "use strict"; try { o.a = 2; return "changed"; } catch (e) { return e.name; } }`, obj).String(); got != "TypeError" {
		t.Errorf("writing a frozen value: %s", got)
	}
}

func TestJSToCtyErrors(t *testing.T) {
	r := testRT(t)
	for _, js := range []string{`({ f() {} })`, `(() => { const o = {}; o.self = o; return o; })()`, `({ n: NaN })`, `({ s: Symbol() })`} {
		v, err := r.vm.RunString(js)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := r.jsToCty(v); err == nil {
			t.Errorf("%s converted to %#v", js, out)
		} else if strings.Contains(err.Error(), "panic") {
			t.Error(err)
		}
	}
	v, _ := r.vm.RunString(`new Date(Date.UTC(2026, 0, 2, 3, 4, 5))`)
	if out, err := r.jsToCty(v); err != nil || out.AsString() != "2026-01-02T03:04:05Z" {
		t.Errorf("Date → %#v, %v", out, err)
	}
	_ = fmt.Sprint
}
