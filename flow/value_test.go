package flow_test

import (
	"math/big"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/flowbatch/flow/flow"
)

// MarshalValue must round-trip every kind of value with its type, and read
// the same as go-cty's own encoding.
func TestMarshalValueRoundTrip(t *testing.T) {
	big1, _, _ := big.ParseFloat("123456789012345678901234567890", 10, 512, big.ToNearestEven)
	cases := map[string]cty.Value{
		"int":        cty.NumberIntVal(42),
		"negative":   cty.NumberIntVal(-7),
		"float":      cty.NumberFloatVal(3.25),
		"huge":       cty.NumberVal(big1),
		"computed":   cty.NumberIntVal(1).Add(cty.NumberIntVal(2)),
		"string":     cty.StringVal("héllo \"quoted\"\n"),
		"bool":       cty.True,
		"null":       cty.NullVal(cty.DynamicPseudoType),
		"null str":   cty.NullVal(cty.String),
		"list":       cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
		"empty list": cty.ListValEmpty(cty.Number),
		"set":        cty.SetVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)}),
		"tuple":      cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(1), cty.NullVal(cty.Bool)}),
		"map":        cty.MapVal(map[string]cty.Value{"x": cty.NumberIntVal(1), "y": cty.NumberIntVal(2)}),
		"object": cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal("n"), "items": cty.TupleVal([]cty.Value{cty.EmptyObjectVal}),
			"nested": cty.ObjectVal(map[string]cty.Value{"k": cty.ListValEmpty(cty.String)}),
		}),
		"empty object": cty.EmptyObjectVal,
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := flow.MarshalValue(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := flow.UnmarshalValue(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !got.Type().Equals(v.Type()) || !got.RawEquals(v) {
				t.Errorf("round trip of %s gave %#v", b, got)
			}
			ref, err := ctyjson.Marshal(v, cty.DynamicPseudoType)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ctyjson.Unmarshal(ref, cty.DynamicPseudoType)
			if !want.RawEquals(got) {
				t.Errorf("differs from go-cty's encoding: %s vs %s", b, ref)
			}
		})
	}
	if _, err := flow.MarshalValue(cty.UnknownVal(cty.String)); err == nil {
		t.Error("an unknown value was encoded")
	}
}

func BenchmarkMarshalValue(b *testing.B) {
	v := cty.ObjectVal(map[string]cty.Value{"i": cty.NumberIntVal(1).Add(cty.NumberIntVal(41)), "s": cty.StringVal("x")})
	for b.Loop() {
		if _, err := flow.MarshalValue(v); err != nil {
			b.Fatal(err)
		}
	}
}
